-- failed payment attempts per day, tenant, payment object and failure code (fct_failed_payments), with names.
with

failures as (

    select * from {{ ref('fct_failed_payments') }}

),

tenants as (

    select * from {{ ref('rpt_tenants') }}

),

final as (

    select
        failures.day::date as day,
        failures.tenant_id::text as tenant_id,
        coalesce(tenants.tenant_name, failures.tenant_id)::text as tenant_name,
        failures.payment_object::text as payment_object,
        failures.failure_code::text as failure_code,
        failures.failures::integer as failures,
        failures.failed_amount::numeric(20, 4) as failed_amount
    from failures
    left join tenants on failures.tenant_id = tenants.tenant_id

)

select * from final
