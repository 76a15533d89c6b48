-- latest version of every tenant (raw keeps one row per (id, updated_at)); renamed and cast, nothing else.
with

latest as (

    {{ latest_versions(source('app', 'app_tenants')) }}

),

renamed as (

    select
        id::{{ text_type() }} as tenant_id,
        name::{{ text_type() }} as tenant_name,
        plan::{{ text_type() }} as plan,
        created_at::{{ timestamptz_type() }} as created_at,
        updated_at::{{ timestamptz_type() }} as updated_at,
        stripe_customer_id::{{ text_type() }} as stripe_customer_id,
        coalesce(is_internal, false)::boolean as is_internal,
        deleted_at::{{ timestamptz_type() }} as deleted_at,
        _batch_id::{{ text_type() }} as batch_id,
        _extracted_at::{{ timestamptz_type() }} as extracted_at

    from latest

)

select * from renamed
