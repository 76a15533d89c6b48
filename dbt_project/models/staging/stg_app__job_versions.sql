-- every version of every background job (raw keeps one row per (id, updated_at)); renamed and cast, nothing else.
with

source as (

    select * from {{ source('app', 'app_jobs') }}

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

    from source

)

select * from renamed
