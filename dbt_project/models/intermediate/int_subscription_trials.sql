-- one row per subscription that had a trial: when it ended and whether it converted (a paid, non-zero line
-- for the subscription starting at or after the trial's end, give or take a day).
with

subscriptions as (

    select * from {{ ref('int_stripe__subscription_tenants') }}

),

lines as (

    select * from {{ ref('int_invoice_lines_priced') }}

),

paid_after_trial as (

    select distinct subscriptions.subscription_id
    from subscriptions
    inner join lines on subscriptions.subscription_id = lines.subscription_id
    where
        lines.invoice_status = 'paid'
        and lines.amount > 0
        and lines.period_start_at >= subscriptions.trial_end_at - interval '1 day'

),

final as (

    select
        subscriptions.subscription_id,
        subscriptions.customer_id,
        subscriptions.tenant_id,
        {{ reporting_date('subscriptions.trial_start_at') }} as trial_start_day,
        {{ reporting_date('subscriptions.trial_end_at') }} as trial_end_day,
        paid_after_trial.subscription_id is not null as is_converted
    from subscriptions
    left join paid_after_trial on subscriptions.subscription_id = paid_after_trial.subscription_id
    where
        subscriptions.trial_end_at is not null
        and not subscriptions.is_internal

)

select * from final
