-- one row per invoice line item (lines.data of the latest invoice version); amounts in minor units, tax excluded.
with

invoices as (

    {{ stripe_latest('stripe_invoices') }}

),

lines as (

    select
        invoices.id as invoice_id,
        line.value as line,
        line.ordinality as line_number
    from invoices
    cross join lateral jsonb_array_elements(invoices.payload -> 'lines' -> 'data') with ordinality as line
    where not invoices.is_deleted

),

renamed as (

    select
        coalesce(line ->> 'id', invoice_id || ':' || line_number) as line_id,
        invoice_id,
        line_number::integer as line_number,
        line ->> 'type' as line_type,
        coalesce(line ->> 'subscription', line ->> 'subscription_id') as subscription_id,
        line ->> 'subscription_item' as subscription_item_id,
        upper(line ->> 'currency') as currency,
        (line ->> 'amount')::bigint as amount,
        coalesce((line ->> 'amount_excluding_tax')::bigint, (line ->> 'amount')::bigint) as amount_excluding_tax,
        {{ stripe_ts("line -> 'period' ->> 'start'") }} as period_start_at,
        {{ stripe_ts("line -> 'period' ->> 'end'") }} as period_end_at,
        coalesce((line ->> 'proration')::boolean, false) as is_proration,
        coalesce((line ->> 'quantity')::integer, 1) as quantity,
        coalesce(line -> 'price' ->> 'id', line -> 'plan' ->> 'id') as price_id,
        coalesce((line -> 'price' ->> 'unit_amount')::bigint, (line -> 'plan' ->> 'amount')::bigint) as unit_amount,
        coalesce(line -> 'price' -> 'recurring' ->> 'interval', line -> 'plan' ->> 'interval') as price_interval,
        coalesce(
            (line -> 'price' -> 'recurring' ->> 'interval_count')::integer,
            (line -> 'plan' ->> 'interval_count')::integer,
            1
        ) as price_interval_count,
        coalesce(line -> 'discount_amounts', '[]'::jsonb) as discount_amounts,
        line ->> 'description' as description

    from lines

)

select * from renamed
