-- latest version of every Stripe charge.
with

source as (

    {{ stripe_latest('stripe_charges') }}

),

renamed as (

    select
        id as charge_id,
        {{ json_text('payload', 'customer') }} as customer_id,
        {{ json_text('payload', 'invoice') }} as invoice_id,
        {{ json_text('payload', 'payment_intent') }} as payment_intent_id,
        upper({{ json_text('payload', 'currency') }}) as currency,
        ({{ json_text('payload', 'amount') }})::bigint as amount,
        coalesce(({{ json_text('payload', 'amount_refunded') }})::bigint, 0) as amount_refunded,
        coalesce(({{ json_text('payload', 'refunded') }})::boolean, false) as is_refunded,
        {{ json_text('payload', 'status') }} as status,
        {{ json_text('payload', 'failure_code') }} as failure_code,
        {{ json_text('payload', 'outcome', 'reason') }} as outcome_reason,
        {{ stripe_ts(json_text('payload', 'created')) }} as created_at,
        is_deleted

    from source

)

select * from renamed
