-- one row per day, tenant (plus '__all__'), payment object (charge | payment_intent) and failure code: failed
-- payment attempts and their amount in the reporting currency. Charges with status failed; payment intents that
-- carry a last_payment_error.
with

charges as (

    select * from {{ ref('stg_stripe__charges') }}

),

payment_intents as (

    select * from {{ ref('stg_stripe__payment_intents') }}

),

customers as (

    select * from {{ ref('int_stripe__customer_tenants') }}

),

failures as (

    select
        'charge' as payment_object,
        customer_id,
        coalesce(failure_code, outcome_reason, 'unknown') as failure_code,
        amount,
        currency,
        {{ reporting_date('created_at') }} as day
    from charges
    where status = 'failed'
    union all
    select
        'payment_intent' as payment_object,
        customer_id,
        coalesce(failure_code, 'unknown') as failure_code,
        amount,
        currency,
        {{ reporting_date('created_at') }} as day
    from payment_intents
    where has_payment_error

),

with_tenant as (

    select
        failures.*,
        coalesce(customers.tenant_id, '__unassigned__') as tenant_id,
        {{ to_reporting('failures.amount', 'failures.currency', 'failures.day') }} as amount_reporting
    from failures
    left join customers on failures.customer_id = customers.customer_id
    where not coalesce(customers.is_internal, false)

),

rolled_up as (

    select
        day,
        {{ tenant_or_all() }} as tenant_id,
        payment_object,
        failure_code,
        count(*) as failures,
        sum(amount_reporting) as failed_amount
    from with_tenant
    {{ group_by_tenant_and_all(['day', 'payment_object', 'failure_code']) }}

),

final as (

    select
        day::text || '|' || tenant_id || '|' || payment_object || '|' || failure_code as failure_key,
        day,
        tenant_id::text as tenant_id,
        payment_object::text as payment_object,
        failure_code::text as failure_code,
        failures::integer as failures,
        failed_amount::numeric(20, 4) as failed_amount,
        {{ policy_label_sql() }} as policy
    from rolled_up

)

select * from final
