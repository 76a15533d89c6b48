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
        id::text as user_id,
        tenant_id::text as tenant_id,
        email::text as email,
        created_at::timestamptz as created_at,
        updated_at::timestamptz as updated_at,
        last_login_at::timestamptz as last_login_at,
        coalesce(is_staff, false)::boolean as is_staff,
        deleted_at::timestamptz as deleted_at,
        _batch_id::text as batch_id,
        _extracted_at::timestamptz as extracted_at

    from latest

)

select * from renamed
