{{ config(**mrr_ledger_config()) }}
-- the daily MRR ledger: one row per customer per day on which an invoice line covers the customer (days not in
-- the ledger are zero MRR), up to the as-of day. Incremental: a run rebuilds [min_date - lookback_days, max_date]
-- (or, without min_date, the last lookback_days before its latest day); the result equals a full refresh.
-- fct_mrr_daily publishes it; int_mrr_customer_months reads its month ends.
with

entitlements as (

    select * from {{ ref('int_mrr_entitlements') }}

),

windowed as (

    select
        entitlements.*,
        greatest(
            entitlements.valid_from,
            {% if is_incremental() %}{{ mrr_daily_window_start() }}{% else %}entitlements.valid_from{% endif %}
        ) as window_from,
        least(entitlements.valid_to - 1, {{ revenue_as_of_date() }}) as window_to
    from entitlements

),

days as (

    select
        windowed.customer_id,
        windowed.tenant_id,
        windowed.currency,
        windowed.entitlement_status,
        windowed.mrr_original_minor,
        windowed.mrr,
        day::date as day
    from windowed
    {{ join_series('windowed.window_from', 'windowed.window_to', 'day', 'day') }}
    where windowed.window_from <= windowed.window_to

),

aggregated as (

    select
        customer_id,
        day,
        min(tenant_id) as tenant_id,
        min(currency) as currency,
        greatest(round(sum(mrr_original_minor), 4), 0) as mrr_original_minor,
        greatest(round(sum(mrr), 4), 0) as mrr,
        bool_or(entitlement_status = 'past_due') as has_past_due,
        bool_or(entitlement_status = 'paused') as has_paused,
        bool_or(entitlement_status = 'trialing') as has_trial
    from days
    group by customer_id, day

),

final as (

    select
        customer_id,
        tenant_id,
        day,
        currency,
        mrr_original_minor::numeric(20, 4) as mrr_original_minor,
        mrr::numeric(20, 4) as mrr,
        '{{ var("reporting_currency") }}'::{{ text_type() }} as reporting_currency,
        (case
            when has_past_due and mrr > 0 then 'past_due'
            when mrr > 0 then 'active'
            when has_paused then 'paused'
            when has_trial then 'trialing'
            else 'free'
        end)::{{ text_type() }} as status,
        {{ policy_label_sql() }} as policy
    from aggregated

)

select * from final
