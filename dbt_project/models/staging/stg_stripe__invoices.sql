-- latest version of every Stripe invoice (header only; lines are in stg_stripe__invoice_lines).
with

source as (

    {{ stripe_latest('stripe_invoices') }}

),

renamed as (

    select
        id as invoice_id,
        payload ->> 'customer' as customer_id,
        payload ->> 'subscription' as subscription_id,
        upper(payload ->> 'currency') as currency,
        payload ->> 'status' as status,
        payload ->> 'billing_reason' as billing_reason,
        {{ stripe_ts("payload ->> 'created'") }} as created_at,
        {{ stripe_ts("payload ->> 'due_date'") }} as due_at,
        {{ stripe_ts("payload ->> 'period_start'") }} as period_start_at,
        {{ stripe_ts("payload ->> 'period_end'") }} as period_end_at,
        {{ stripe_ts("payload -> 'status_transitions' ->> 'paid_at'") }} as paid_at,
        {{ stripe_ts("payload -> 'status_transitions' ->> 'voided_at'") }} as voided_at,
        {{ stripe_ts("payload -> 'status_transitions' ->> 'marked_uncollectible_at'") }} as marked_uncollectible_at,
        {{ stripe_ts("payload -> 'status_transitions' ->> 'finalized_at'") }} as finalized_at,
        coalesce((payload ->> 'attempt_count')::integer, 0) as attempt_count,
        coalesce((payload ->> 'attempted')::boolean, false) as attempted,
        (payload ->> 'amount_due')::bigint as amount_due,
        (payload ->> 'amount_paid')::bigint as amount_paid,
        (payload ->> 'amount_remaining')::bigint as amount_remaining,
        (payload ->> 'total')::bigint as total,
        payload ->> 'charge' as charge_id,
        payload ->> 'payment_intent' as payment_intent_id,
        payload -> 'discount' as discount,
        payload -> 'discounts' as discounts,
        is_deleted,
        _extracted_at

    from source

)

select * from renamed
