-- latest version of every Stripe invoice (header only; lines are in stg_stripe__invoice_lines).
with

source as (

    {{ stripe_latest('stripe_invoices') }}

),

renamed as (

    select
        id as invoice_id,
        {{ json_text('payload', 'customer') }} as customer_id,
        {{ json_text('payload', 'subscription') }} as subscription_id,
        upper({{ json_text('payload', 'currency') }}) as currency,
        {{ json_text('payload', 'status') }} as status,
        {{ json_text('payload', 'billing_reason') }} as billing_reason,
        {{ stripe_ts(json_text('payload', 'created')) }} as created_at,
        {{ stripe_ts(json_text('payload', 'due_date')) }} as due_at,
        {{ stripe_ts(json_text('payload', 'period_start')) }} as period_start_at,
        {{ stripe_ts(json_text('payload', 'period_end')) }} as period_end_at,
        {{ stripe_ts(json_text('payload', 'status_transitions', 'paid_at')) }} as paid_at,
        {{ stripe_ts(json_text('payload', 'status_transitions', 'voided_at')) }} as voided_at,
        {{ stripe_ts(json_text('payload', 'status_transitions', 'marked_uncollectible_at')) }} as marked_uncollectible_at,
        {{ stripe_ts(json_text('payload', 'status_transitions', 'finalized_at')) }} as finalized_at,
        coalesce(({{ json_text('payload', 'attempt_count') }})::integer, 0) as attempt_count,
        coalesce(({{ json_text('payload', 'attempted') }})::boolean, false) as attempted,
        ({{ json_text('payload', 'amount_due') }})::bigint as amount_due,
        ({{ json_text('payload', 'amount_paid') }})::bigint as amount_paid,
        ({{ json_text('payload', 'amount_remaining') }})::bigint as amount_remaining,
        ({{ json_text('payload', 'total') }})::bigint as total,
        {{ json_text('payload', 'charge') }} as charge_id,
        {{ json_text('payload', 'payment_intent') }} as payment_intent_id,
        {{ json_get('payload', 'discount') }} as discount,
        {{ json_get('payload', 'discounts') }} as discounts,
        is_deleted,
        _extracted_at

    from source

)

select * from renamed
