-- invoices that went through dunning (fct_invoice_dunning) with the customer's and the tenant's names.
with

dunning as (

    select * from {{ ref('fct_invoice_dunning') }}

),

customers as (

    select * from {{ ref('rpt_customers') }}

),

tenants as (

    select * from {{ ref('rpt_tenants') }}

),

final as (

    select
        dunning.invoice_id::text as invoice_id,
        dunning.invoice_day::date as invoice_day,
        dunning.invoice_month::date as invoice_month,
        dunning.customer_id::text as customer_id,
        coalesce(customers.customer_name, dunning.customer_id)::text as customer_name,
        dunning.tenant_id::text as tenant_id,
        coalesce(tenants.tenant_name, dunning.tenant_id)::text as tenant_name,
        dunning.attempt_count::integer as attempt_count,
        dunning.invoice_status::text as invoice_status,
        dunning.outcome::text as outcome,
        dunning.amount_due_reporting::numeric(20, 4) as amount_due
    from dunning
    left join customers on dunning.customer_id = customers.customer_id
    left join tenants on dunning.tenant_id = tenants.tenant_id

)

select * from final
