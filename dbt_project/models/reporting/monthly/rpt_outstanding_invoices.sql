-- invoices open on the as-of day (fct_outstanding_invoices) with the customer's and the tenant's names.
with

invoices as (

    select * from {{ ref('fct_outstanding_invoices') }}

),

customers as (

    select * from {{ ref('rpt_customers') }}

),

tenants as (

    select * from {{ ref('rpt_tenants') }}

),

final as (

    select
        invoices.invoice_id::text as invoice_id,
        invoices.as_of_day::date as as_of_day,
        invoices.due_day::date as due_day,
        invoices.days_past_due::integer as days_past_due,
        invoices.aging_bucket::text as aging_bucket,
        (case invoices.aging_bucket
            when 'current' then 0 when '1-30' then 1 when '31-60' then 2 when '61-90' then 3 else 4
        end)::integer as aging_bucket_order,
        invoices.customer_id::text as customer_id,
        coalesce(customers.customer_name, invoices.customer_id)::text as customer_name,
        invoices.tenant_id::text as tenant_id,
        coalesce(tenants.tenant_name, invoices.tenant_id)::text as tenant_name,
        invoices.amount_remaining_reporting::numeric(20, 4) as amount_remaining
    from invoices
    left join customers on invoices.customer_id = customers.customer_id
    left join tenants on invoices.tenant_id = tenants.tenant_id

)

select * from final
