-- one row per invoice line item (lines.data of the latest invoice version); amounts in minor units, tax excluded.
with

invoices as (

    {{ stripe_latest('stripe_invoices') }}

),

lines as (

    select
        invoices.id as invoice_id,
        line.value as line,
        {{ json_element_number('line') }} as line_number
    from invoices
    {{ join_json_elements(json_get('invoices.payload', 'lines', 'data'), 'line') }}
    where not invoices.is_deleted

),

renamed as (

    select
        coalesce({{ json_text('line', 'id') }}, invoice_id || ':' || line_number) as line_id,
        invoice_id,
        line_number::integer as line_number,
        {{ json_text('line', 'type') }} as line_type,
        coalesce({{ json_text('line', 'subscription') }}, {{ json_text('line', 'subscription_id') }}) as subscription_id,
        {{ json_text('line', 'subscription_item') }} as subscription_item_id,
        upper({{ json_text('line', 'currency') }}) as currency,
        ({{ json_text('line', 'amount') }})::bigint as amount,
        coalesce(({{ json_text('line', 'amount_excluding_tax') }})::bigint, ({{ json_text('line', 'amount') }})::bigint) as amount_excluding_tax,
        {{ stripe_ts(json_text('line', 'period', 'start')) }} as period_start_at,
        {{ stripe_ts(json_text('line', 'period', 'end')) }} as period_end_at,
        coalesce(({{ json_text('line', 'proration') }})::boolean, false) as is_proration,
        coalesce(({{ json_text('line', 'quantity') }})::integer, 1) as quantity,
        coalesce({{ json_text('line', 'price', 'id') }}, {{ json_text('line', 'plan', 'id') }}) as price_id,
        coalesce(({{ json_text('line', 'price', 'unit_amount') }})::bigint, ({{ json_text('line', 'plan', 'amount') }})::bigint) as unit_amount,
        coalesce({{ json_text('line', 'price', 'recurring', 'interval') }}, {{ json_text('line', 'plan', 'interval') }}) as price_interval,
        coalesce(
            ({{ json_text('line', 'price', 'recurring', 'interval_count') }})::integer,
            ({{ json_text('line', 'plan', 'interval_count') }})::integer,
            1
        ) as price_interval_count,
        coalesce({{ json_get('line', 'discount_amounts') }}, '[]'::{{ json_type() }}) as discount_amounts,
        {{ json_text('line', 'description') }} as description

    from lines

)

select * from renamed
