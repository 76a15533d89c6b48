-- latest version of every Stripe subscription (the current state: status, trial, scheduled cancellation, pause).
with

source as (

    {{ stripe_latest('stripe_subscriptions') }}

),

renamed as (

    select
        id as subscription_id,
        {{ json_text('payload', 'customer') }} as customer_id,
        {{ json_text('payload', 'status') }} as status,
        upper({{ json_text('payload', 'currency') }}) as currency,
        {{ stripe_ts(json_text('payload', 'created')) }} as created_at,
        {{ stripe_ts(json_text('payload', 'start_date')) }} as started_at,
        {{ stripe_ts(json_text('payload', 'trial_start')) }} as trial_start_at,
        {{ stripe_ts(json_text('payload', 'trial_end')) }} as trial_end_at,
        {{ stripe_ts(json_text('payload', 'current_period_start')) }} as current_period_start_at,
        {{ stripe_ts(json_text('payload', 'current_period_end')) }} as current_period_end_at,
        coalesce(({{ json_text('payload', 'cancel_at_period_end') }})::boolean, false) as cancel_at_period_end,
        {{ stripe_ts(json_text('payload', 'cancel_at')) }} as cancel_at,
        {{ stripe_ts(json_text('payload', 'canceled_at')) }} as canceled_at,
        {{ stripe_ts(json_text('payload', 'ended_at')) }} as ended_at,
        {{ json_text('payload', 'cancellation_details', 'reason') }} as cancellation_reason,
        {{ json_text('payload', 'pause_collection', 'behavior') }} as pause_behavior,
        {{ stripe_ts(json_text('payload', 'pause_collection', 'resumes_at')) }} as pause_resumes_at,
        {{ json_get('payload', 'discount') }} as discount,
        is_deleted,
        _extracted_at

    from source

)

select * from renamed
