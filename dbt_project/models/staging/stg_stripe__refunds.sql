-- latest version of every Stripe refund.
with

source as (

    {{ stripe_latest('stripe_refunds') }}

),

renamed as (

    select
        id as refund_id,
        {{ json_text('payload', 'charge') }} as charge_id,
        {{ json_text('payload', 'payment_intent') }} as payment_intent_id,
        upper({{ json_text('payload', 'currency') }}) as currency,
        ({{ json_text('payload', 'amount') }})::bigint as amount,
        {{ json_text('payload', 'status') }} as status,
        {{ json_text('payload', 'reason') }} as reason,
        {{ stripe_ts(json_text('payload', 'created')) }} as created_at,
        is_deleted

    from source

)

select * from renamed
