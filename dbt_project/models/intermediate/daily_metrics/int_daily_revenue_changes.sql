{#-
    The day-over-day revenue changes the alert rules watch (seed alert_metrics), on each row of int_daily_spine:
    mrr_change_pct = MRR on the day / MRR on the day before - 1 (null when the day before is not a row or had no MRR;
    a drop is negative), and paying_customers_churned = customers paying (MRR > 0) on the day before and not on the
    day, counted on the ledger's days only (the day after the revenue as-of day is not a churn). Same window as the
    other daily_metrics models; the day before the window is read for the first day's change.
-#}
{%- set lower_bound = daily_metrics_window_start() %}

with

{{ daily_metrics_imports() }}

revenue as (

    select
        metric_date,
        tenant_id,
        mrr

    from {{ ref('int_daily_revenue') }}
    where
        metric_date <= {{ product_last_date() }}
        {%- if lower_bound is not none %}
            and metric_date >= {{ lower_bound }} - 1
        {%- endif %}

),

mrr_changes as (

    select
        metric_date,
        tenant_id,
        case
            when
                lag(metric_date) over by_tenant = metric_date - 1
                and lag(mrr) over by_tenant > 0
                then round(mrr / lag(mrr) over by_tenant - 1, 6)
        end as mrr_change_pct

    from revenue
    window by_tenant as (partition by tenant_id order by metric_date)

),

paying_days as (

    select
        customer_id,
        tenant_id,
        day

    from {{ ref('int_mrr_customer_days') }}
    where
        mrr > 0
        and day >= (select min(metric_date) from spine) - 1
        and day <= (select max(metric_date) from spine)

),

ledger_end as (

    select max(day) as last_day from {{ ref('int_mrr_customer_days') }}

),

churned_customers as (

    select
        previous_day.day + 1 as metric_date,
        previous_day.tenant_id,
        previous_day.customer_id

    from paying_days as previous_day
    cross join ledger_end
    left join paying_days as next_day
        on
            previous_day.customer_id = next_day.customer_id
            and next_day.day = previous_day.day + 1
    where
        next_day.customer_id is null
        and previous_day.day < ledger_end.last_day

),

churned as (

    select
        metric_date,
        {{ tenant_or_all() }} as tenant_id,
        count(*) as paying_customers_churned

    from churned_customers
    {{ group_by_tenant_and_all(['metric_date']) }}

),

final as (

    select
        spine.metric_date::date as metric_date,
        spine.tenant_id::{{ text_type() }} as tenant_id,
        mrr_changes.mrr_change_pct::numeric(12, 6) as mrr_change_pct,
        coalesce(churned.paying_customers_churned, 0)::integer as paying_customers_churned

    from spine
    left join mrr_changes
        on spine.metric_date = mrr_changes.metric_date and spine.tenant_id = mrr_changes.tenant_id
    left join churned
        on spine.metric_date = churned.metric_date and spine.tenant_id = churned.tenant_id

)

select * from final
