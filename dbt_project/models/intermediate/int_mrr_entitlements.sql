-- one row per invoice line that carries MRR: the days it covers [valid_from, valid_to) in the reporting timezone,
-- its monthly value in original minor units and in the reporting currency (FX rate at the service period's start),
-- and what it is (trialing, active, past_due, paused, free, refunded). Billing history decides the value; the
-- current subscription only adds its end (ended_at / canceled_at per policy churn_recognition) and its trial.
with

lines as (

    select * from {{ ref('int_invoice_lines_priced') }}

),

subscriptions as (

    select * from {{ ref('stg_stripe__subscriptions') }}

),

customers as (

    select * from {{ ref('int_stripe__customer_tenants') }}

),

currencies as (

    select * from {{ ref('currencies') }}

),

fx_rates as (

    select * from {{ ref('fx_rates') }}

),

subscription_history as (

    -- a subscription that was billed (paid) after a voided invoice was paused, not ended, in between
    select
        subscription_id,
        max(period_start_at) filter (where invoice_status = 'paid' and amount > 0) as last_paid_period_start_at
    from lines
    group by subscription_id

),

classified as (

    select
        lines.*,
        coalesce(customers.tenant_id, '__unassigned__') as tenant_id,
        coalesce(customers.is_internal, false) as is_internal,
        subscriptions.status as subscription_status,
        subscriptions.ended_at,
        subscriptions.canceled_at,
        case
            when
                lines.amount = 0
                and not lines.is_proration
                and subscriptions.trial_end_at is not null
                and lines.period_start_at < subscriptions.trial_end_at
                and lines.period_end_at <= subscriptions.trial_end_at + interval '1 day'
                then 'trialing'
            when
                lines.invoice_status in ('void', 'uncollectible', 'draft')
                and (
                    subscriptions.status = 'paused'
                    or subscriptions.pause_behavior is not null
                    or subscription_history.last_paid_period_start_at > lines.period_start_at
                )
                and lines.invoice_status = 'void'
                -- a voided invoice re-issued for the same period is not a pause
                and not exists (
                    select 1
                    from lines as reissued
                    where
                        reissued.subscription_id = lines.subscription_id
                        and reissued.invoice_status = 'paid'
                        and reissued.period_start_at < lines.period_end_at
                        and reissued.period_end_at > lines.period_start_at
                )
                then 'paused'
            when lines.invoice_status = 'open' then 'past_due'
            when lines.invoice_status = 'paid' and lines.is_fully_refunded then 'refunded'
            when lines.invoice_status = 'paid' and lines.mrr_minor = 0 and not lines.is_proration then 'free'
            when lines.invoice_status = 'paid' then 'active'
        end as entitlement_status
    from lines
    left join subscriptions on lines.subscription_id = subscriptions.subscription_id
    left join customers on lines.customer_id = customers.customer_id
    left join subscription_history on lines.subscription_id = subscription_history.subscription_id

),

valued as (

    select
        classified.*,
        case entitlement_status
            when 'trialing' then {% if policy('trials') == 'include' %}list_mrr_minor{% else %}0{% endif %}
            when 'paused' then {% if policy('pauses') == 'keep' %}mrr_minor{% else %}0{% endif %}
            when 'refunded' then {% if policy('refunds') == 'full_refund_zero' %}0{% else %}mrr_minor{% endif %}
            else mrr_minor
        end as effective_mrr_minor,
        {{ reporting_date('period_start_at') }} as period_start_day,
        least(
            {{ reporting_date('period_end_at') }},
            {% if policy('churn_recognition') == 'cancellation' -%}
                {{ reporting_date('coalesce(canceled_at, ended_at)') }},
            {%- else -%}
                {{ reporting_date('ended_at') }},
            {%- endif %}
            case
                when entitlement_status = 'past_due'
                    then {{ reporting_date('invoice_created_at') }} + {{ policy('past_due_grace_days') }}
            end
        ) as valid_to
    from classified
    where
        entitlement_status is not null
        and not is_internal

),

converted as (

    select
        valued.*,
        currencies.minor_unit_exponent,
        (
            select rates.usd_per_unit
            from fx_rates as rates
            where
                rates.currency_code = valued.currency
                and rates.rate_date <= valued.period_start_day
            order by rates.rate_date desc
            limit 1
        ) / (
            select rates.usd_per_unit
            from fx_rates as rates
            where
                rates.currency_code = '{{ var("reporting_currency") }}'
                and rates.rate_date <= valued.period_start_day
            order by rates.rate_date desc
            limit 1
        ) as fx_rate
    from valued
    left join currencies on valued.currency = currencies.currency_code

),

final as (

    select
        line_id,
        invoice_id,
        customer_id,
        tenant_id,
        subscription_id,
        currency,
        entitlement_status,
        period_start_day as valid_from,
        valid_to,
        effective_mrr_minor::numeric(20, 4) as mrr_original_minor,
        fx_rate::numeric(20, 10) as fx_rate,
        ({{ minor_to_major('effective_mrr_minor', 'minor_unit_exponent') }} * fx_rate)::numeric(20, 4) as mrr,
        {{ policy_label_sql() }} as policy
    from converted
    where valid_to > period_start_day

)

select * from final
