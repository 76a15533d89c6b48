-- invoices that went through dunning (fct_invoice_dunning) with the customer's and the tenant's names.
with

dunning as (

    select * from {{ ref('fct_invoice_dunning') }}

),

{{ reporting_name_imports(customers=true) }}

final as (

    select
        dunning.invoice_id::{{ text_type() }} as invoice_id,
        dunning.invoice_day::date as invoice_day,
        dunning.invoice_month::date as invoice_month,
        {{ customer_name_columns('dunning') }}
        {{ tenant_name_columns('dunning', plan_and_segment=false) }}
        dunning.attempt_count::integer as attempt_count,
        dunning.invoice_status::{{ text_type() }} as invoice_status,
        dunning.outcome::{{ text_type() }} as outcome,
        dunning.amount_due_reporting::numeric(20, 4) as amount_due
    from dunning
    {{ reporting_name_joins('dunning', customers=true) }}

)

select * from final
