-- latest version of every Stripe payment intent.
with

source as (

    {{ stripe_latest('stripe_payment_intents') }}

),

renamed as (

    select
        id as payment_intent_id,
        {{ json_text('payload', 'customer') }} as customer_id,
        {{ json_text('payload', 'invoice') }} as invoice_id,
        upper({{ json_text('payload', 'currency') }}) as currency,
        ({{ json_text('payload', 'amount') }})::bigint as amount,
        {{ json_text('payload', 'status') }} as status,
        coalesce(
            {{ json_text('payload', 'last_payment_error', 'decline_code') }},
            {{ json_text('payload', 'last_payment_error', 'code') }}
        ) as failure_code,
        {{ json_get('payload', 'last_payment_error') }} is not null
        and {{ json_typeof(json_get('payload', 'last_payment_error')) }} = 'object' as has_payment_error,
        {{ stripe_ts(json_text('payload', 'created')) }} as created_at,
        is_deleted

    from source

)

select * from renamed
