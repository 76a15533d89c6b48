-- latest version of every user; email stays in staging (PII never reaches a mart).
with

latest as (

    {{ latest_versions(source('app', 'app_users')) }}

),

renamed as (

    select
        id::{{ text_type() }} as user_id,
        tenant_id::{{ text_type() }} as tenant_id,
        email::{{ text_type() }} as email,
        created_at::{{ timestamptz_type() }} as created_at,
        updated_at::{{ timestamptz_type() }} as updated_at,
        last_login_at::{{ timestamptz_type() }} as last_login_at,
        coalesce(is_staff, false)::boolean as is_staff,
        deleted_at::{{ timestamptz_type() }} as deleted_at,
        _batch_id::{{ text_type() }} as batch_id,
        _extracted_at::{{ timestamptz_type() }} as extracted_at

    from latest

)

select * from renamed
