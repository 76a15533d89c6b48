-- latest version of every user; email stays in staging (PII never reaches a mart).
with

source as (

    select * from {{ source('app', 'app_users') }}

),

latest as (

    select source.*
    from source
    where not exists (
        select 1
        from {{ source('app', 'app_users') }} as newer
        where
            newer.id = source.id
            and newer.updated_at > source.updated_at
    )

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
