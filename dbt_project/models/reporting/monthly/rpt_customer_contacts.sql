{{ config(enabled=include_personal_data()) }}
-- personal data: each reporting customer with its billing email, for the readers that may see it. Built only when
-- INCLUDE_PERSONAL_DATA is true (docs/OPERATIONS.md, "Personal data"), dropped by the next run when it is not.
with

customers as (

    select * from {{ ref('rpt_customers') }}

),

contacts as (

    select * from {{ ref('dim_revenue_customer_contacts') }}

),

final as (

    select
        customers.customer_id,
        customers.customer_name,
        customers.tenant_id,
        customers.tenant_name,
        contacts.email::{{ text_type() }} as email
    from customers
    inner join contacts on customers.customer_id = contacts.customer_id

)

select * from final
