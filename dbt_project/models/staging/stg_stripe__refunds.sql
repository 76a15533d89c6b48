-- latest version of every Stripe refund.
with

source as (

    {{ stripe_latest('stripe_refunds') }}

),

renamed as (

    select
        id as refund_id,
        payload ->> 'charge' as charge_id,
        payload ->> 'payment_intent' as payment_intent_id,
        upper(payload ->> 'currency') as currency,
        (payload ->> 'amount')::bigint as amount,
        payload ->> 'status' as status,
        payload ->> 'reason' as reason,
        {{ stripe_ts("payload ->> 'created'") }} as created_at,
        is_deleted

    from source

)

select * from renamed
