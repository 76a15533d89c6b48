-- product events (append-only; loads are idempotent per window, so no dedup here).
with

source as (

    select * from {{ source('app', 'app_events') }}

),

renamed as (

    select
        id::{{ text_type() }} as event_id,
        tenant_id::{{ text_type() }} as tenant_id,
        user_id::{{ text_type() }} as user_id,
        event_type::{{ text_type() }} as event_type,
        occurred_at::{{ timestamptz_type() }} as occurred_at,
        properties::{{ json_type() }} as properties,
        _batch_id::{{ text_type() }} as batch_id,
        _extracted_at::{{ timestamptz_type() }} as extracted_at

    from source

)

select * from renamed
