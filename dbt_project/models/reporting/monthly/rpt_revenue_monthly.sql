{#-
    Revenue by month for every tenant row of rpt_tenants ('__all__' and '__unassigned__' included): one row per
    month from the tenant's creation month (the company's first month for '__all__') to the last month of
    fct_revenue_monthly, zeros where nobody paid, so every month is present. Movement KPIs, churn under names that
    cannot be confused (paying customers lost, revenue churn; tenant accounts closed is the app-side count in
    rpt_kpi_periods), LTV and CAC, payments, and the company's finance (runway, net burn on '__all__'). Each KPI of
    reporting_monthly_kpis() comes with <kpi>_previous (the month before) and <kpi>_last_year (12 months earlier).
    Definitions: docs/METRICS.md (Revenue, Reporting).
-#}
{%- set kpis = reporting_monthly_kpis() -%}
with

revenue as (

    select * from {{ ref('fct_revenue_monthly') }}

),

payments as (

    select * from {{ ref('fct_payments_monthly') }}

),

finance as (

    select * from {{ ref('fct_finance_monthly') }}

),

{{ reporting_name_imports() }}

bounds as (

    select max(month) as last_month from revenue

),

spine as (

    select
        tenants.tenant_id,
        month::date as month
    from tenants
    cross join bounds
    {{ join_series("date_trunc('month', tenants.created_date)::date", 'bounds.last_month', 'month', 'month') }}

    union

    select
        tenant_id,
        month
    from revenue

),

joined as (

    select
        spine.month,
        spine.tenant_id,
        coalesce(revenue.starting_mrr, 0) as starting_mrr,
        coalesce(revenue.mrr, 0) as mrr,
        coalesce(revenue.arr, 0) as arr,
        coalesce(revenue.customers, 0) as paying_customers,
        revenue.arpa,
        coalesce(revenue.new_mrr, 0) as new_mrr,
        coalesce(revenue.expansion_mrr, 0) as expansion_mrr,
        coalesce(revenue.contraction_mrr, 0) as contraction_mrr,
        coalesce(revenue.churned_mrr, 0) as churned_mrr,
        coalesce(revenue.reactivation_mrr, 0) as reactivation_mrr,
        coalesce(revenue.fx_mrr, 0) as fx_mrr,
        coalesce(revenue.net_new_mrr, 0) as net_new_mrr,
        coalesce(revenue.starting_customers, 0) as starting_paying_customers,
        coalesce(revenue.new_customers, 0) as new_paying_customers,
        coalesce(revenue.churned_customers, 0) as paying_customers_lost,
        coalesce(revenue.reactivated_customers, 0) as reactivated_paying_customers,
        revenue.customer_churn_rate,
        revenue.gross_revenue_churn_rate,
        revenue.net_revenue_churn_rate,
        revenue.nrr,
        revenue.grr,
        revenue.quick_ratio,
        revenue.ltv,
        revenue.sales_marketing_spend,
        revenue.cac,
        revenue.cac_payback_months,
        coalesce(revenue.trials_ended, 0) as trials_ended,
        coalesce(revenue.trials_converted, 0) as trials_converted,
        revenue.trial_conversion_rate,
        coalesce(payments.net_collected, 0) as net_collected,
        coalesce(payments.refunds, 0) as refunds,
        coalesce(payments.refunded_amount, 0) as refunded_amount,
        coalesce(payments.dunning_recovered, 0) as dunning_recovered,
        coalesce(payments.dunning_lost, 0) as dunning_lost,
        coalesce(payments.dunning_in_progress, 0) as dunning_in_progress,
        coalesce(payments.voluntary_churned_customers, 0) as voluntary_churned_customers,
        coalesce(payments.involuntary_churned_customers, 0) as involuntary_churned_customers,
        finance.net_burn,
        finance.cash_balance,
        finance.runway_months,
        revenue.policy
    from spine
    left join revenue on spine.month = revenue.month and spine.tenant_id = revenue.tenant_id
    left join payments on spine.month = payments.month and spine.tenant_id = payments.tenant_id
    left join finance on spine.month = finance.month and spine.tenant_id = finance.tenant_id

),

final as (

    select
        joined.month::date as month,
        {{ month_last_day('joined.month') }} as month_end,
        joined.tenant_id::{{ text_type() }} as tenant_id,
        tenants.tenant_name::{{ text_type() }} as tenant_name,
        tenants.plan::{{ text_type() }} as plan,
        tenants.segment::{{ text_type() }} as segment,
        (joined.tenant_id = '__all__')::boolean as is_all_tenants,
        '{{ var("reporting_currency") }}'::{{ text_type() }} as reporting_currency,
        joined.starting_mrr::numeric(20, 4) as starting_mrr,
        joined.fx_mrr::numeric(20, 4) as fx_mrr,
        joined.starting_paying_customers::integer as starting_paying_customers,
        joined.reactivated_paying_customers::integer as reactivated_paying_customers,
        joined.sales_marketing_spend::numeric(20, 4) as sales_marketing_spend,
        joined.trials_ended::integer as trials_ended,
        joined.trials_converted::integer as trials_converted,
        joined.net_collected::numeric(20, 4) as net_collected,
        joined.refunds::integer as refunds,
        joined.dunning_recovered::integer as dunning_recovered,
        joined.dunning_lost::integer as dunning_lost,
        joined.dunning_in_progress::integer as dunning_in_progress,
        joined.voluntary_churned_customers::integer as voluntary_churned_customers,
        joined.involuntary_churned_customers::integer as involuntary_churned_customers,
        joined.cash_balance::numeric(20, 4) as cash_balance,
        {% for name in kpis -%}
            joined.{{ name }},
            previous.{{ name }} as {{ name }}_previous,
            last_year.{{ name }} as {{ name }}_last_year,
        {% endfor -%}
        coalesce(joined.policy, (select min(policy) from revenue))::{{ text_type() }} as policy
    from joined
    {{ reporting_name_joins('joined') }}
    left join joined as previous
        on
            joined.tenant_id = previous.tenant_id
            and previous.month = {{ add_months('joined.month', '-1') }}
    left join joined as last_year
        on
            joined.tenant_id = last_year.tenant_id
            and last_year.month = {{ add_months('joined.month', '-12') }}

)

select * from final
