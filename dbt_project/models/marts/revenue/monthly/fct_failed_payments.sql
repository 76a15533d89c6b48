-- one row per day, tenant (plus '__all__'), payment object (charge | payment_intent) and failure code: failed
-- payment attempts and their amount in the reporting currency. Charges with status failed; payment intents that
-- carry a last_payment_error.
with

failures as (

    select * from {{ ref('int_stripe__payment_failures') }}
    where not is_internal

),

with_amount as (

    select
        failures.*,
        {{ to_reporting('failures.amount', 'failures.currency', 'failures.day') }} as amount_reporting
    from failures

),

rolled_up as (

    select
        day,
        {{ tenant_or_all() }} as tenant_id,
        payment_object,
        failure_code,
        count(*) as failures,
        sum(amount_reporting) as failed_amount
    from with_amount
    {{ group_by_tenant_and_all(['day', 'payment_object', 'failure_code']) }}

),

final as (

    select
        day::{{ text_type() }} || '|' || tenant_id || '|' || payment_object || '|' || failure_code as failure_key,
        day,
        tenant_id::{{ text_type() }} as tenant_id,
        payment_object::{{ text_type() }} as payment_object,
        failure_code::{{ text_type() }} as failure_code,
        failures::integer as failures,
        failed_amount::numeric(20, 4) as failed_amount,
        {{ policy_label_sql() }} as policy
    from rolled_up

)

select * from final
