-- latest version of every Stripe coupon.
with

source as (

    {{ stripe_latest('stripe_coupons') }}

),

renamed as (

    select
        id as coupon_id,
        {{ json_text('payload', 'duration') }} as duration,
        ({{ json_text('payload', 'duration_in_months') }})::integer as duration_in_months,
        ({{ json_text('payload', 'percent_off') }})::{{ numeric_type() }} as percent_off,
        ({{ json_text('payload', 'amount_off') }})::bigint as amount_off,
        upper({{ json_text('payload', 'currency') }}) as currency,
        is_deleted

    from source

)

select * from renamed
