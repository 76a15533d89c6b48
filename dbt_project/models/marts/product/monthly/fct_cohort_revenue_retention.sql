{#-
    Net MRR retention by tenant signup cohort: one row per (cohort_month, period_number).
    cohort_month = the local month the tenant was created (counted tenants). Each tenant's month 0 is its first
    paying month (the first month whose month-end MRR, summed over its Stripe customers, is > 0: trials and late
    conversions do not shrink the base); period n = month 0 + n calendar months, anchored on each member as the
    product cohorts are. starting_mrr = the cohort's paying tenants' month-0 MRR; mrr = the same tenants' month-end
    MRR in their period n (0 after churn, expansion counts: net retention); net_mrr_retention = mrr / starting_mrr.
    A cell is observable when period n has ended (its last day <= the as-of day) for every paying member; otherwise
    it is NULL, never 0. Tenants of the cohort that start paying later join the base then.
    Month-end MRR comes from int_mrr_customer_months (the revenue ledger's month ends, reporting currency).
-#}
{%- set max_months = var('cohort_max_months') | int %}

with

tenants as (

    select * from {{ ref('int_tenants_classified') }}
    where is_counted

),

customer_months as (

    select * from {{ ref('int_mrr_customer_months') }}

),

as_of as (

    select {{ product_last_date() }} as as_of_date

),

members as (

    select
        tenant_id,
        date_trunc('month', created_date)::date as cohort_month

    from tenants
    where created_date <= (select as_of_date from as_of)

),

tenant_months as (

    select
        customer_months.tenant_id,
        customer_months.month,
        sum(customer_months.ending_mrr) as mrr

    from customer_months
    inner join members
        on customer_months.tenant_id = members.tenant_id
    where customer_months.month <= (select as_of_date from as_of)
    group by customer_months.tenant_id, customer_months.month

),

first_paying as (

    select
        tenant_id,
        min(month) as first_paying_month

    from tenant_months
    where mrr > 0
    group by tenant_id

),

paying_members as (

    select
        members.tenant_id,
        members.cohort_month,
        first_paying.first_paying_month,
        tenant_months.mrr as first_month_mrr

    from members
    inner join first_paying
        on members.tenant_id = first_paying.tenant_id
    inner join tenant_months
        on
            first_paying.tenant_id = tenant_months.tenant_id
            and first_paying.first_paying_month = tenant_months.month

),

cohorts as (

    select
        members.cohort_month,
        count(*) as cohort_size,
        count(paying_members.tenant_id) as paying_tenants,
        coalesce(sum(paying_members.first_month_mrr), 0) as starting_mrr,
        max(paying_members.first_paying_month) as last_first_paying_month

    from members
    left join paying_members
        on members.tenant_id = paying_members.tenant_id
    group by members.cohort_month

),

grid as (

    select
        cohorts.*,
        period_number,
        coalesce(
            (cohorts.last_first_paying_month + (period_number + 1) * interval '1 month' - interval '1 day')::date
            <= (select as_of_date from as_of),
            false
        ) as is_observable

    from cohorts
    {{ join_series('0', max_months, 'period_number') }}

),

retained as (

    select
        paying_members.cohort_month,
        period_number,
        coalesce(sum(tenant_months.mrr), 0) as mrr,
        count(*) filter (where tenant_months.mrr > 0) as retained_tenants

    from paying_members
    {{ join_series('0', max_months, 'period_number') }}
    left join tenant_months
        on
            paying_members.tenant_id = tenant_months.tenant_id
            and tenant_months.month = {{ add_months('paying_members.first_paying_month', 'period_number') }}
    group by paying_members.cohort_month, period_number

),

final as (

    select
        grid.cohort_month::date as cohort_month,
        grid.period_number::integer as period_number,
        grid.cohort_size::integer as cohort_size,
        grid.paying_tenants::integer as paying_tenants,
        '{{ var("reporting_currency") }}'::{{ text_type() }} as reporting_currency,
        grid.starting_mrr::numeric(20, 4) as starting_mrr,
        grid.is_observable::boolean as is_observable,
        (case when grid.is_observable then coalesce(retained.mrr, 0) end)::numeric(20, 4) as mrr,
        (case when grid.is_observable then coalesce(retained.retained_tenants, 0) end)::integer as retained_tenants,
        (case
            when grid.is_observable then coalesce(retained.mrr, 0) / nullif(grid.starting_mrr, 0)
        end)::numeric(12, 6) as net_mrr_retention,
        (select as_of_date from as_of)::date as as_of_date

    from grid
    left join retained
        on
            grid.cohort_month = retained.cohort_month
            and grid.period_number = retained.period_number

)

select * from final
