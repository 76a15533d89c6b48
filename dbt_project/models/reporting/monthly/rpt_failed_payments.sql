-- failed payment attempts per day, tenant, payment object and failure code (fct_failed_payments), with names.
with

failures as (

    select * from {{ ref('fct_failed_payments') }}

),

{{ reporting_name_imports() }}

final as (

    select
        failures.day::date as day,
        {{ tenant_name_columns('failures', plan_and_segment=false) }}
        failures.payment_object::{{ text_type() }} as payment_object,
        failures.failure_code::{{ text_type() }} as failure_code,
        failures.failures::integer as failures,
        failures.failed_amount::numeric(20, 4) as failed_amount
    from failures
    {{ reporting_name_joins('failures') }}

)

select * from final
