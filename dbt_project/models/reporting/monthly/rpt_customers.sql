-- one row per Stripe customer (internal ones excluded) with its name and its tenant's name: what the customer-level
-- reporting tables show instead of ids. No contact details (the email stays in the marts).
with

customers as (

    select * from {{ ref('dim_revenue_customers') }}
    where not is_internal

),

tenants as (

    select * from {{ ref('rpt_tenants') }}

),

final as (

    select
        customers.customer_id::text as customer_id,
        coalesce(customers.customer_name, tenants.tenant_name, customers.customer_id)::text as customer_name,
        customers.tenant_id::text as tenant_id,
        coalesce(tenants.tenant_name, customers.tenant_id)::text as tenant_name,
        customers.currency::text as currency,
        customers.first_paying_month::date as first_paying_month,
        customers.last_paying_month::date as last_paying_month
    from customers
    left join tenants on customers.tenant_id = tenants.tenant_id

)

select * from final
