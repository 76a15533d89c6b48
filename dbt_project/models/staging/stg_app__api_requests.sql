-- public API requests (append-only, the largest table; loads are idempotent per window).
with

source as (

    select * from {{ source('app', 'app_api_requests') }}

),

renamed as (

    select
        id::text as request_id,
        tenant_id::text as tenant_id,
        user_id::text as user_id,
        method::text as http_method,
        route::text as route,
        status_code::integer as status_code,
        duration_ms::double precision as duration_ms,
        occurred_at::timestamptz as occurred_at,
        _batch_id::text as batch_id,
        _extracted_at::timestamptz as extracted_at

    from source

)

select * from renamed
