-- one row per Stripe customer (internal ones excluded) with its name and its tenant's name: what the customer-level
-- reporting tables show instead of ids. No contact details (the email stays in the marts).
with

customers as (

    select * from {{ ref('dim_revenue_customers') }}
    where not is_internal

),

{{ reporting_name_imports() }}

final as (

    select
        customers.customer_id::{{ text_type() }} as customer_id,
        coalesce(customers.customer_name, tenants.tenant_name, customers.customer_id)::{{ text_type() }} as customer_name,
        {{ tenant_name_columns('customers', plan_and_segment=false) }}
        customers.currency::{{ text_type() }} as currency,
        customers.first_paying_month::date as first_paying_month,
        customers.last_paying_month::date as last_paying_month
    from customers
    {{ reporting_name_joins('customers') }}

)

select * from final
