{{ config(enabled=include_personal_data()) }}
-- personal data: one row per Stripe customer with its billing email. Built only when INCLUDE_PERSONAL_DATA is true
-- (docs/OPERATIONS.md, "Personal data"); every other mart is free of it.
with

customers as (

    select * from {{ ref('int_stripe__customer_tenants') }}

),

revenue_customers as (

    select * from {{ ref('dim_revenue_customers') }}

),

final as (

    select
        revenue_customers.customer_id,
        revenue_customers.tenant_id,
        customers.email
    from revenue_customers
    inner join customers on revenue_customers.customer_id = customers.customer_id

)

select * from final
