-- every Stripe discount id we can see, with its coupon's duration (forever | repeating | once).
-- Discount objects appear expanded on invoices (discount, discounts[]), subscriptions and customers; the coupon
-- may be an object or an id (then the coupons table has it).
with

invoices as (

    select * from {{ ref('stg_stripe__invoices') }}

),

subscriptions as (

    select * from {{ ref('stg_stripe__subscriptions') }}

),

customers as (

    select * from {{ ref('stg_stripe__customers') }}

),

coupons as (

    select * from {{ ref('stg_stripe__coupons') }}

),

discount_objects as (

    select discount as discount_object from invoices
    where {{ json_typeof('discount') }} = 'object'
    union all
    select element as discount_object
    from invoices
    {{ join_json_values(
        "case when " ~ json_typeof('discounts') ~ " = 'array' then discounts else '[]'::" ~ json_type() ~ " end",
        'element',
    ) }}
    where {{ json_typeof('element') }} = 'object'
    union all
    select discount as discount_object from subscriptions
    where {{ json_typeof('discount') }} = 'object'
    union all
    select discount as discount_object from customers
    where {{ json_typeof('discount') }} = 'object'

),

parsed as (

    select
        {{ json_text('discount_object', 'id') }} as discount_id,
        case
            when {{ json_typeof(json_get('discount_object', 'coupon')) }} = 'object' then {{ json_text('discount_object', 'coupon', 'id') }}
            else {{ json_text('discount_object', 'coupon') }}
        end as coupon_id,
        {{ json_text('discount_object', 'coupon', 'duration') }} as embedded_duration
    from discount_objects
    where {{ json_text('discount_object', 'id') }} is not null

),

resolved as (

    select
        parsed.discount_id,
        max(parsed.coupon_id) as coupon_id,
        max(coalesce(parsed.embedded_duration, coupons.duration)) as coupon_duration
    from parsed
    left join coupons on parsed.coupon_id = coupons.coupon_id
    group by parsed.discount_id

),

final as (

    select
        discount_id,
        coupon_id,
        coupon_duration
    from resolved

)

select * from final
