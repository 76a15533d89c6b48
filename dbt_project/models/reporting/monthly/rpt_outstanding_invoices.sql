-- invoices open on the as-of day (fct_outstanding_invoices) with the customer's and the tenant's names.
with

invoices as (

    select * from {{ ref('fct_outstanding_invoices') }}

),

{{ reporting_name_imports(customers=true) }}

final as (

    select
        invoices.invoice_id::{{ text_type() }} as invoice_id,
        invoices.as_of_day::date as as_of_day,
        invoices.due_day::date as due_day,
        invoices.days_past_due::integer as days_past_due,
        invoices.aging_bucket::{{ text_type() }} as aging_bucket,
        (case invoices.aging_bucket
            when 'current' then 0 when '1-30' then 1 when '31-60' then 2 when '61-90' then 3 else 4
        end)::integer as aging_bucket_order,
        {{ customer_name_columns('invoices') }}
        {{ tenant_name_columns('invoices', plan_and_segment=false) }}
        invoices.amount_remaining_reporting::numeric(20, 4) as amount_remaining
    from invoices
    {{ reporting_name_joins('invoices', customers=true) }}

)

select * from final
