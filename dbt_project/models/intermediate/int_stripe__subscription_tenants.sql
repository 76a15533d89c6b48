-- one row per Stripe subscription (latest version) with its customer's tenant ('__unassigned__' when none) and
-- whether that tenant is internal.
with

subscriptions as (

    select * from {{ ref('stg_stripe__subscriptions') }}

),

customers as (

    select * from {{ ref('int_stripe__customer_tenants') }}

),

final as (

    select
        subscriptions.*,
        coalesce(customers.tenant_id, '__unassigned__') as tenant_id,
        coalesce(customers.is_internal, false) as is_internal
    from subscriptions
    left join customers on subscriptions.customer_id = customers.customer_id

)

select * from final
