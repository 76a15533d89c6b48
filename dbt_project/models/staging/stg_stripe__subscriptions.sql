-- latest version of every Stripe subscription (the current state: status, trial, scheduled cancellation, pause).
with

source as (

    {{ stripe_latest('stripe_subscriptions') }}

),

renamed as (

    select
        id as subscription_id,
        payload ->> 'customer' as customer_id,
        payload ->> 'status' as status,
        upper(payload ->> 'currency') as currency,
        {{ stripe_ts("payload ->> 'created'") }} as created_at,
        {{ stripe_ts("payload ->> 'start_date'") }} as started_at,
        {{ stripe_ts("payload ->> 'trial_start'") }} as trial_start_at,
        {{ stripe_ts("payload ->> 'trial_end'") }} as trial_end_at,
        {{ stripe_ts("payload ->> 'current_period_start'") }} as current_period_start_at,
        {{ stripe_ts("payload ->> 'current_period_end'") }} as current_period_end_at,
        coalesce((payload ->> 'cancel_at_period_end')::boolean, false) as cancel_at_period_end,
        {{ stripe_ts("payload ->> 'cancel_at'") }} as cancel_at,
        {{ stripe_ts("payload ->> 'canceled_at'") }} as canceled_at,
        {{ stripe_ts("payload ->> 'ended_at'") }} as ended_at,
        payload -> 'cancellation_details' ->> 'reason' as cancellation_reason,
        payload -> 'pause_collection' ->> 'behavior' as pause_behavior,
        {{ stripe_ts("payload -> 'pause_collection' ->> 'resumes_at'") }} as pause_resumes_at,
        payload -> 'discount' as discount,
        is_deleted,
        _extracted_at

    from source

)

select * from renamed
