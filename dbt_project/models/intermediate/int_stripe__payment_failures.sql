-- one row per failed payment object: every charge with status failed, and every payment intent that carries a
-- last_payment_error, on its local day, with its customer's tenant ('__unassigned__' when none). An intent whose
-- failed attempt is also a failed charge has has_failed_charge: counting attempts counts it once (the charge).
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
        charge_id as payment_id,
        customer_id,
        coalesce(failure_code, outcome_reason, 'unknown') as failure_code,
        amount,
        currency,
        created_at,
        false as has_failed_charge
    from charges
    where status = 'failed'

    union all

    select
        'payment_intent' as payment_object,
        payment_intent_id as payment_id,
        customer_id,
        coalesce(failure_code, 'unknown') as failure_code,
        amount,
        currency,
        created_at,
        exists(
            select 1
            from charges
            where
                charges.status = 'failed'
                and charges.payment_intent_id = payment_intents.payment_intent_id
        ) as has_failed_charge
    from payment_intents
    where has_payment_error

),

final as (

    select
        failures.payment_object,
        failures.payment_id,
        failures.customer_id,
        coalesce(customers.tenant_id, '__unassigned__') as tenant_id,
        coalesce(customers.is_internal, false) as is_internal,
        failures.failure_code,
        failures.amount,
        failures.currency,
        failures.created_at,
        {{ reporting_date('failures.created_at') }} as day,
        failures.has_failed_charge
    from failures
    left join customers on failures.customer_id = customers.customer_id

)

select * from final
