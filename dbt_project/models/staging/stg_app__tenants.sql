-- latest version of every tenant (raw keeps one row per (id, updated_at)); renamed and cast, nothing else.
with

source as (

    select * from {{ source('app', 'app_tenants') }}

),

latest as (

    select source.*
    from source
    where not exists (
        select 1
        from {{ source('app', 'app_tenants') }} as newer
        where
            newer.id = source.id
            and newer.updated_at > source.updated_at
    )

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
