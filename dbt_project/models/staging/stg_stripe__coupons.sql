-- latest version of every Stripe coupon.
with

source as (

    {{ stripe_latest('stripe_coupons') }}

),

renamed as (

    select
        id as coupon_id,
        payload ->> 'duration' as duration,
        (payload ->> 'duration_in_months')::integer as duration_in_months,
        (payload ->> 'percent_off')::numeric as percent_off,
        (payload ->> 'amount_off')::bigint as amount_off,
        upper(payload ->> 'currency') as currency,
        is_deleted

    from source

)

select * from renamed
