-- start + new + expansion + reactivation + fx - contraction - churn = end, for every month and tenant (and for
-- every customer-month), to a hundredth of a minor unit. In Dagster, an asset check on fct_revenue_monthly.
{{ config(meta={"dagster": {"ref": {"name": "fct_revenue_monthly"}}}) }}
with

monthly as (

    select
        'monthly' as grain,
        month::text || '|' || tenant_id as row_key,
        starting_mrr + new_mrr + expansion_mrr + reactivation_mrr + fx_mrr - contraction_mrr - churned_mrr as computed,
        mrr as ending
    from {{ ref('fct_revenue_monthly') }}

),

customer_months as (

    select
        'customer_month' as grain,
        customer_month_id as row_key,
        starting_mrr + new_mrr + expansion_mrr + reactivation_mrr + fx_mrr - contraction_mrr - churned_mrr as computed,
        ending_mrr as ending
    from {{ ref('fct_mrr_movements') }}

),

final as (

    select * from monthly where abs(computed - ending) > 0.0001
    union all
    select * from customer_months where abs(computed - ending) > 0.0001

)

select * from final
