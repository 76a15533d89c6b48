-- one row per Stripe customer: tenant (customer.metadata.tenant_id), currency, first and last paying month.
-- No personal data: the billing email is in dim_revenue_customer_contacts, built only when it is asked for.
with

customers as (

    select * from {{ ref('int_stripe__customer_tenants') }}

),

movements as (

    select * from {{ ref('fct_mrr_movements') }}

),

paying_months as (

    select
        customer_id,
        min(month) filter (where ending_mrr > 0 or new_mrr > 0) as first_paying_month,
        max(month) filter (where ending_mrr > 0) as last_paying_month
    from movements
    group by customer_id

),

final as (

    select
        customers.customer_id,
        customers.tenant_id::{{ text_type() }} as tenant_id,
        customers.tenant_source::{{ text_type() }} as tenant_source,
        customers.is_internal,
        customers.customer_name,
        customers.currency,
        customers.created_at,
        customers.is_deleted,
        paying_months.first_paying_month,
        paying_months.last_paying_month,
        {{ policy_label_sql() }} as policy
    from customers
    left join paying_months on customers.customer_id = paying_months.customer_id

)

select * from final
