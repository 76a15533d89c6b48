-- one row per month per tenant, plus the all-tenants row (tenant_id = '__all__'): MRR, ARR, customers and their
-- movements, churn rates, NRR, GRR, ARPA, quick ratio, LTV, CAC (all-tenants row only) and trial conversion.
-- Every month from a tenant's first ledger month to the as-of month has a row, also when nobody paid at either end
-- (zero MRR, zero customers), so a chart has no gap.
with

movements as (

    select * from {{ ref('fct_mrr_movements') }}

),

customer_months as (

    select * from {{ ref('int_mrr_customer_months') }}

),

month_spine as (

    select
        month,
        {{ tenant_or_all() }} as tenant_id
    from customer_months
    {{ group_by_tenant_and_all(['month']) }}

),

trials as (

    select * from {{ ref('int_subscription_trials') }}

),

finance as (

    select * from {{ ref('finance_monthly_inputs') }}

),

moving_months as (

    select
        month,
        {{ tenant_or_all() }} as tenant_id,
        sum(starting_mrr) as starting_mrr,
        sum(ending_mrr) as mrr,
        sum(new_mrr) as new_mrr,
        sum(expansion_mrr) as expansion_mrr,
        sum(contraction_mrr) as contraction_mrr,
        sum(churned_mrr) as churned_mrr,
        sum(reactivation_mrr) as reactivation_mrr,
        sum(fx_mrr) as fx_mrr,
        count(*) filter (where starting_mrr > 0) as starting_customers,
        count(*) filter (where ending_mrr > 0) as customers,
        count(*) filter (where new_mrr > 0) as new_customers,
        count(*) filter (where churned_mrr > 0) as churned_customers,
        count(*) filter (where reactivation_mrr > 0) as reactivated_customers,
        -- churn of the customers paying at the start of the month (a same-month join-and-leave is not in it)
        coalesce(sum(churned_mrr) filter (where starting_mrr > 0), 0) as starting_churned_mrr,
        count(*) filter (where churned_mrr > 0 and starting_mrr > 0) as starting_churned_customers
    from movements
    {{ group_by_tenant_and_all(['month']) }}

),

monthly as (

    select
        month_spine.month,
        month_spine.tenant_id,
        coalesce(moving_months.starting_mrr, 0) as starting_mrr,
        coalesce(moving_months.mrr, 0) as mrr,
        coalesce(moving_months.new_mrr, 0) as new_mrr,
        coalesce(moving_months.expansion_mrr, 0) as expansion_mrr,
        coalesce(moving_months.contraction_mrr, 0) as contraction_mrr,
        coalesce(moving_months.churned_mrr, 0) as churned_mrr,
        coalesce(moving_months.reactivation_mrr, 0) as reactivation_mrr,
        coalesce(moving_months.fx_mrr, 0) as fx_mrr,
        coalesce(moving_months.starting_customers, 0) as starting_customers,
        coalesce(moving_months.customers, 0) as customers,
        coalesce(moving_months.new_customers, 0) as new_customers,
        coalesce(moving_months.churned_customers, 0) as churned_customers,
        coalesce(moving_months.reactivated_customers, 0) as reactivated_customers,
        coalesce(moving_months.starting_churned_mrr, 0) as starting_churned_mrr,
        coalesce(moving_months.starting_churned_customers, 0) as starting_churned_customers
    from month_spine
    left join moving_months
        on
            month_spine.month = moving_months.month
            and month_spine.tenant_id = moving_months.tenant_id

),

trial_months as (

    select
        date_trunc('month', trial_end_day)::date as month,
        {{ tenant_or_all() }} as tenant_id,
        count(*) as trials_ended,
        count(*) filter (where is_converted) as trials_converted
    from trials
    where trial_end_day <= {{ revenue_as_of_date() }}
    {{ group_by_tenant_and_all(["date_trunc('month', trial_end_day)::date"]) }}

),

rates as (

    select
        monthly.*,
        coalesce(trial_months.trials_ended, 0) as trials_ended,
        coalesce(trial_months.trials_converted, 0) as trials_converted,
        monthly.starting_churned_customers::{{ numeric_type() }} / nullif(monthly.starting_customers, 0) as customer_churn_rate,
        monthly.mrr / nullif(monthly.customers, 0) as arpa
    from monthly
    left join trial_months
        on
            monthly.month = trial_months.month
            and monthly.tenant_id = trial_months.tenant_id

),

with_trailing as (

    select
        rates.*,
        avg(customer_churn_rate) over (
            partition by tenant_id order by month rows between 2 preceding and current row
        ) as trailing_3m_customer_churn_rate
    from rates

),

final as (

    select
        with_trailing.month,
        with_trailing.tenant_id::{{ text_type() }} as tenant_id,
        '{{ var("reporting_currency") }}'::{{ text_type() }} as reporting_currency,
        with_trailing.starting_mrr::numeric(20, 4) as starting_mrr,
        with_trailing.mrr::numeric(20, 4) as mrr,
        (with_trailing.mrr * 12)::numeric(20, 4) as arr,
        with_trailing.new_mrr::numeric(20, 4) as new_mrr,
        with_trailing.expansion_mrr::numeric(20, 4) as expansion_mrr,
        with_trailing.contraction_mrr::numeric(20, 4) as contraction_mrr,
        with_trailing.churned_mrr::numeric(20, 4) as churned_mrr,
        with_trailing.reactivation_mrr::numeric(20, 4) as reactivation_mrr,
        with_trailing.fx_mrr::numeric(20, 4) as fx_mrr,
        (with_trailing.mrr - with_trailing.starting_mrr)::numeric(20, 4) as net_new_mrr,
        with_trailing.starting_customers::integer as starting_customers,
        with_trailing.customers::integer as customers,
        with_trailing.new_customers::integer as new_customers,
        with_trailing.churned_customers::integer as churned_customers,
        with_trailing.reactivated_customers::integer as reactivated_customers,
        with_trailing.customer_churn_rate::numeric(12, 6) as customer_churn_rate,
        (
            (with_trailing.starting_churned_mrr + with_trailing.contraction_mrr)
            / nullif(with_trailing.starting_mrr, 0)
        )::numeric(12, 6
        ) as gross_revenue_churn_rate,
        (
            (with_trailing.starting_churned_mrr + with_trailing.contraction_mrr - with_trailing.expansion_mrr)
            / nullif(with_trailing.starting_mrr, 0)
        )::numeric(12, 6
        ) as net_revenue_churn_rate,
        ((
            with_trailing.starting_mrr + with_trailing.expansion_mrr - with_trailing.contraction_mrr
            - with_trailing.starting_churned_mrr
        ) / nullif(with_trailing.starting_mrr, 0
        ))::numeric(12, 6) as nrr,
        (
            (with_trailing.starting_mrr - with_trailing.contraction_mrr - with_trailing.starting_churned_mrr)
            / nullif(with_trailing.starting_mrr, 0)
        )::numeric(12, 6
        ) as grr,
        with_trailing.arpa::numeric(20, 4) as arpa,
        (
            (with_trailing.new_mrr + with_trailing.expansion_mrr + with_trailing.reactivation_mrr)
            / nullif(with_trailing.churned_mrr + with_trailing.contraction_mrr, 0)
        )::numeric(12, 4
        ) as quick_ratio,
        (with_trailing.arpa / nullif(with_trailing.trailing_3m_customer_churn_rate, 0))::numeric(20, 4) as ltv,
        (case when with_trailing.tenant_id = '__all__' then finance.sales_marketing_spend end)::numeric(20, 4)
            as sales_marketing_spend,
        (case
            when with_trailing.tenant_id = '__all__'
                then finance.sales_marketing_spend / nullif(with_trailing.new_customers, 0)
        end)::numeric(20, 4) as cac,
        (case
            when with_trailing.tenant_id = '__all__'
                then finance.sales_marketing_spend / nullif(with_trailing.new_mrr, 0)
        end)::numeric(12, 4) as cac_payback_months,
        with_trailing.trials_ended::integer as trials_ended,
        with_trailing.trials_converted::integer as trials_converted,
        (with_trailing.trials_converted::{{ numeric_type() }} / nullif(with_trailing.trials_ended, 0))::numeric(12, 6)
            as trial_conversion_rate,
        {{ policy_label_sql() }} as policy
    from with_trailing
    left join finance on with_trailing.month = finance.month

)

select * from final
