-- one row per subscription line item on an invoice, with its monthly value (minor units, original currency):
-- the interval (day, week, month, year × interval_count) normalized to months, discounts applied per policy,
-- proration lines valued at the list price of their plan for their period (a credit for unused time cancels the
-- old plan's rate, a charge for remaining time adds the new one), tax excluded.
with

lines as (

    select * from {{ ref('stg_stripe__invoice_lines') }}

),

invoices as (

    select * from {{ ref('stg_stripe__invoices') }}

),

discounts as (

    select * from {{ ref('int_stripe__discounts') }}

),

charges as (

    select * from {{ ref('stg_stripe__charges') }}

),

subscription_lines as (

    select lines.*
    from lines
    where
        lines.price_interval is not null
        and (lines.line_type = 'subscription' or lines.subscription_id is not null)

),

line_discounts as (

    select
        subscription_lines.line_id,
        sum(abs(({{ json_text('element', 'amount') }})::bigint)) as discount_amount,
        sum(abs(({{ json_text('element', 'amount') }})::bigint)) filter (
            where coalesce(
                discounts.coupon_duration,
                {{ json_text('element', 'discount', 'coupon', 'duration') }}
            ) = 'forever'
        ) as forever_discount_amount
    from subscription_lines
    {{ join_json_values('subscription_lines.discount_amounts', 'element') }}
    left join discounts
        on discounts.discount_id = case
            when {{ json_typeof(json_get('element', 'discount')) }} = 'object' then {{ json_text('element', 'discount', 'id') }}
            else {{ json_text('element', 'discount') }}
        end
    group by subscription_lines.line_id

),

invoice_refunds as (

    select
        coalesce(charges.invoice_id, invoices.invoice_id) as invoice_id,
        sum(charges.amount) as charged_amount,
        sum(charges.amount_refunded) as refunded_amount
    from charges
    left join invoices on charges.charge_id = invoices.charge_id
    where
        charges.status = 'succeeded'
        and coalesce(charges.invoice_id, invoices.invoice_id) is not null
    group by coalesce(charges.invoice_id, invoices.invoice_id)

),

joined as (

    select
        subscription_lines.line_id,
        subscription_lines.invoice_id,
        invoices.customer_id,
        coalesce(subscription_lines.subscription_id, invoices.subscription_id) as subscription_id,
        coalesce(subscription_lines.currency, invoices.currency) as currency,
        invoices.status as invoice_status,
        invoices.created_at as invoice_created_at,
        subscription_lines.period_start_at,
        subscription_lines.period_end_at,
        subscription_lines.is_proration,
        subscription_lines.quantity,
        subscription_lines.unit_amount,
        subscription_lines.price_interval,
        subscription_lines.price_interval_count,
        subscription_lines.amount_excluding_tax as amount,
        coalesce(line_discounts.discount_amount, 0) as discount_amount,
        coalesce(line_discounts.forever_discount_amount, 0) as forever_discount_amount,
        {{ interval_months('subscription_lines.price_interval', 'subscription_lines.price_interval_count') }}
            as interval_months,
        coalesce(
            invoice_refunds.charged_amount > 0
            and invoice_refunds.refunded_amount >= invoice_refunds.charged_amount,
            false
        ) as is_fully_refunded
    from subscription_lines
    inner join invoices on subscription_lines.invoice_id = invoices.invoice_id
    left join line_discounts on subscription_lines.line_id = line_discounts.line_id
    left join invoice_refunds on subscription_lines.invoice_id = invoice_refunds.invoice_id
    where not invoices.is_deleted

),

valued as (

    select
        joined.*,
        -- the amount for one full interval of this line's plan (proration lines: the list price, signed)
        case
            when joined.is_proration
                then sign(joined.amount) * coalesce(joined.unit_amount * joined.quantity, abs(joined.amount))
            else joined.amount
        end as interval_amount,
        case '{{ policy("discounts") }}'
            when 'all' then joined.discount_amount
            when 'forever_only' then joined.forever_discount_amount
            else 0
        end as applied_discount_amount,
        joined.amount <> 0 and joined.discount_amount >= abs(joined.amount) as is_full_discount
    from joined

),

final as (

    select
        line_id,
        invoice_id,
        customer_id,
        subscription_id,
        currency,
        invoice_status,
        invoice_created_at,
        period_start_at,
        period_end_at,
        is_proration,
        quantity,
        unit_amount,
        price_interval,
        price_interval_count,
        amount,
        discount_amount,
        forever_discount_amount,
        is_full_discount,
        is_fully_refunded,
        interval_months,
        -- list value per month, before any discount (used for trials when policy trials = include)
        (coalesce(unit_amount * quantity, abs(amount)) / interval_months)::numeric(20, 4) as list_mrr_minor,
        (case
            when amount = 0 then 0
            when is_full_discount and {{ policy('full_discount_as_free') }} then 0
            else
                interval_amount
                * greatest(abs(amount) - applied_discount_amount, 0)::{{ numeric_type() }} / abs(amount)
                / interval_months
        end)::numeric(20, 4) as mrr_minor
    from valued

)

select * from final
