-- latest version of every Stripe charge.
with

source as (

    {{ stripe_latest('stripe_charges') }}

),

renamed as (

    select
        id as charge_id,
        payload ->> 'customer' as customer_id,
        payload ->> 'invoice' as invoice_id,
        payload ->> 'payment_intent' as payment_intent_id,
        upper(payload ->> 'currency') as currency,
        (payload ->> 'amount')::bigint as amount,
        coalesce((payload ->> 'amount_refunded')::bigint, 0) as amount_refunded,
        coalesce((payload ->> 'refunded')::boolean, false) as is_refunded,
        payload ->> 'status' as status,
        payload ->> 'failure_code' as failure_code,
        payload -> 'outcome' ->> 'reason' as outcome_reason,
        {{ stripe_ts("payload ->> 'created'") }} as created_at,
        is_deleted

    from source

)

select * from renamed
