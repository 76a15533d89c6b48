{#-
    Revenue on each row of int_daily_spine, from the daily revenue models only (a monthly mart upstream would make
    the daily metrics wait for the month): MRR on the day (reporting currency; days without a ledger row are 0),
    paying customers, and month-to-date retention of the customers paying at the start of the month (their starting
    MRR, and their MRR on the day at the month-start exchange rate, net and capped at the start: NRR and GRR so far);
    failed payment attempts (every failed charge, plus payment intents whose failed attempt is not a failed charge).
    The '__all__' rows cover every non-internal Stripe customer: also those without an app tenant ('__unassigned__')
    and tenants no longer in the spine; a customer belongs to one tenant, so nothing is counted twice.
-#}

with

{{ daily_metrics_imports(days=true) }}

ledger as (

    select
        customer_id,
        tenant_id,
        day,
        mrr,
        mrr_original_minor

    from {{ ref('int_mrr_customer_days') }}
    where
        day >= (select min(metric_date) from days)
        and day <= (select max(metric_date) from days)

),

ledger_daily as (

    select
        day as metric_date,
        {{ tenant_or_all() }} as tenant_id,
        sum(mrr) as mrr,
        count(distinct customer_id) filter (where mrr > 0) as paying_customers

    from ledger
    {{ group_by_tenant_and_all(['day']) }}

),

-- customers paying at the start of each month (MRR on the previous month's last day), as fct_mrr_movements
month_starts as (

    select
        customer_id,
        tenant_id,
        month,
        starting_mrr,
        starting_mrr_original_minor

    from {{ ref('int_mrr_customer_months') }}
    where
        starting_mrr > 0
        and month >= date_trunc('month', (select min(metric_date) from days))::date
        and month <= (select max(metric_date) from days)

),

-- each starting customer's MRR on the day at the month-start exchange rate (the FX movement is not retention;
-- under half a cent it is rounding and stays in, as in fct_mrr_movements)
retention_customer_days as (

    select
        days.metric_date,
        month_starts.tenant_id,
        month_starts.starting_mrr,
        case
            when coalesce(ledger.mrr, 0) <= 0 then 0
            when month_starts.starting_mrr_original_minor = 0 then ledger.mrr
            else ledger.mrr - case
                when abs(round(
                    ledger.mrr
                    - ledger.mrr_original_minor * month_starts.starting_mrr / month_starts.starting_mrr_original_minor,
                    4
                )) < 0.005 then 0
                else round(
                    ledger.mrr
                    - ledger.mrr_original_minor * month_starts.starting_mrr / month_starts.starting_mrr_original_minor,
                    4
                )
            end
        end as retained_mrr

    from days
    inner join month_starts
        on month_starts.month = date_trunc('month', days.metric_date)::date
    left join ledger
        on
            month_starts.customer_id = ledger.customer_id
            and days.metric_date = ledger.day

),

retention_daily as (

    select
        metric_date,
        {{ tenant_or_all() }} as tenant_id,
        sum(starting_mrr) as starting_mrr,
        sum(retained_mrr) as net_retained_mrr,
        sum(least(retained_mrr, starting_mrr)) as gross_retained_mrr

    from retention_customer_days
    {{ group_by_tenant_and_all(['metric_date']) }}

),

failed_payments as (

    select
        day as metric_date,
        {{ tenant_or_all() }} as tenant_id,
        count(*) as failed_payments

    from {{ ref('int_stripe__payment_failures') }}
    where
        not is_internal
        and not has_failed_charge
        and day >= (select min(metric_date) from days)
        and day <= (select max(metric_date) from days)
    {{ group_by_tenant_and_all(['day']) }}

),

final as (

    select
        spine.metric_date,
        spine.tenant_id,
        coalesce(ledger_daily.mrr, 0)::numeric(20, 4) as mrr,
        coalesce(ledger_daily.paying_customers, 0) as paying_customers,
        retention_daily.starting_mrr::numeric(20, 4) as starting_mrr,
        retention_daily.net_retained_mrr::numeric(20, 4) as net_retained_mrr,
        retention_daily.gross_retained_mrr::numeric(20, 4) as gross_retained_mrr,
        coalesce(failed_payments.failed_payments, 0) as failed_payments

    from spine
    left join ledger_daily
        on spine.metric_date = ledger_daily.metric_date and spine.tenant_id = ledger_daily.tenant_id
    left join retention_daily
        on spine.metric_date = retention_daily.metric_date and spine.tenant_id = retention_daily.tenant_id
    left join failed_payments
        on spine.metric_date = failed_payments.metric_date and spine.tenant_id = failed_payments.tenant_id

)

select * from final
