-- latest version of every Stripe payment intent.
with

source as (

    {{ stripe_latest('stripe_payment_intents') }}

),

renamed as (

    select
        id as payment_intent_id,
        payload ->> 'customer' as customer_id,
        payload ->> 'invoice' as invoice_id,
        upper(payload ->> 'currency') as currency,
        (payload ->> 'amount')::bigint as amount,
        payload ->> 'status' as status,
        coalesce(
            payload -> 'last_payment_error' ->> 'decline_code',
            payload -> 'last_payment_error' ->> 'code'
        ) as failure_code,
        payload -> 'last_payment_error' is not null
        and jsonb_typeof(payload -> 'last_payment_error') = 'object' as has_payment_error,
        {{ stripe_ts("payload ->> 'created'") }} as created_at,
        is_deleted

    from source

)

select * from renamed
