-- the '__all__' row equals the sum of the tenant rows (no double count, nothing lost).
with

tenants as (

    select month, sum(mrr) as mrr, sum(customers) as customers, sum(churned_mrr) as churned_mrr
    from {{ ref('fct_revenue_monthly') }}
    where tenant_id <> '__all__'
    group by month

),

all_tenants as (

    select month, mrr, customers, churned_mrr
    from {{ ref('fct_revenue_monthly') }}
    where tenant_id = '__all__'

),

final as (

    select all_tenants.month
    from all_tenants
    full outer join tenants on all_tenants.month = tenants.month
    where all_tenants.month is null
        or tenants.month is null
        or abs(all_tenants.mrr - tenants.mrr) > 0.0001
        or all_tenants.customers <> tenants.customers
        or abs(all_tenants.churned_mrr - tenants.churned_mrr) > 0.0001

)

select * from final
