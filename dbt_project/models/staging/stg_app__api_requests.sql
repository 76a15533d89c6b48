-- public API requests (append-only, the largest table; loads are idempotent per window).
with

source as (

    select * from {{ source('app', 'app_api_requests') }}

),

renamed as (

    select
        id::{{ text_type() }} as request_id,
        tenant_id::{{ text_type() }} as tenant_id,
        user_id::{{ text_type() }} as user_id,
        method::{{ text_type() }} as http_method,
        route::{{ text_type() }} as route,
        status_code::integer as status_code,
        duration_ms::{{ double_type() }} as duration_ms,
        occurred_at::{{ timestamptz_type() }} as occurred_at,
        _batch_id::{{ text_type() }} as batch_id,
        _extracted_at::{{ timestamptz_type() }} as extracted_at

    from source

)

select * from renamed
