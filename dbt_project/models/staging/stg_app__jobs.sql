-- latest version of every background job (written as an anti-join so window filters push down to raw).
with

source as (

    select * from {{ source('app', 'app_jobs') }}

),

latest as (

    select source.*
    from source
    where not exists (
        select 1
        from {{ source('app', 'app_jobs') }} as newer
        where
            newer.id = source.id
            and newer.updated_at > source.updated_at
    )

),

renamed as (

    select
        id::text as job_id,
        tenant_id::text as tenant_id,
        job_type::text as job_type,
        status::text as job_status,
        created_at::timestamptz as created_at,
        started_at::timestamptz as started_at,
        finished_at::timestamptz as finished_at,
        updated_at::timestamptz as updated_at,
        error::text as error_message,
        _batch_id::text as batch_id,
        _extracted_at::timestamptz as extracted_at

    from latest

)

select * from renamed
