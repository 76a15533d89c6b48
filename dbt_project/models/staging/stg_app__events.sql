-- product events (append-only; loads are idempotent per window, so no dedup here).
with

source as (

    select * from {{ source('app', 'app_events') }}

),

renamed as (

    select
        id::text as event_id,
        tenant_id::text as tenant_id,
        user_id::text as user_id,
        event_type::text as event_type,
        occurred_at::timestamptz as occurred_at,
        properties::jsonb as properties,
        _batch_id::text as batch_id,
        _extracted_at::timestamptz as extracted_at

    from source

)

select * from renamed
