-- one row per customer and month with an MRR movement (fct_mrr_movements without the unchanged months), with the
-- customer's and the tenant's names: the MRR bridge's customer-level drill-down and the largest movements table.
with

movements as (

    select * from {{ ref('fct_mrr_movements') }}
    where movement_type <> 'unchanged'

),

{{ reporting_name_imports(customers=true) }}

final as (

    select
        movements.customer_month_id::{{ text_type() }} as customer_month_id,
        movements.month::date as month,
        {{ customer_name_columns('movements') }}
        {{ tenant_name_columns('movements') }}
        movements.movement_type::{{ text_type() }} as movement_type,
        movements.churn_type::{{ text_type() }} as churn_type,
        movements.starting_mrr::numeric(20, 4) as starting_mrr,
        movements.new_mrr::numeric(20, 4) as new_mrr,
        movements.expansion_mrr::numeric(20, 4) as expansion_mrr,
        movements.contraction_mrr::numeric(20, 4) as contraction_mrr,
        movements.churned_mrr::numeric(20, 4) as churned_mrr,
        movements.reactivation_mrr::numeric(20, 4) as reactivation_mrr,
        movements.fx_mrr::numeric(20, 4) as fx_mrr,
        movements.ending_mrr::numeric(20, 4) as ending_mrr,
        (movements.ending_mrr - movements.starting_mrr)::numeric(20, 4) as mrr_change
    from movements
    {{ reporting_name_joins('movements', customers=true) }}

)

select * from final
-- written month by month: a month's movements (what the cards list) sit on neighbouring pages
order by month, tenant_id
