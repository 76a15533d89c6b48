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
        id::{{ text_type() }} as job_id,
        tenant_id::{{ text_type() }} as tenant_id,
        job_type::{{ text_type() }} as job_type,
        status::{{ text_type() }} as job_status,
        created_at::{{ timestamptz_type() }} as created_at,
        started_at::{{ timestamptz_type() }} as started_at,
        finished_at::{{ timestamptz_type() }} as finished_at,
        updated_at::{{ timestamptz_type() }} as updated_at,
        error::{{ text_type() }} as error_message,
        _batch_id::{{ text_type() }} as batch_id,
        _extracted_at::{{ timestamptz_type() }} as extracted_at

    from latest

)

select * from renamed
