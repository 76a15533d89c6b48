-- one row per movement of cash: a succeeded charge (kind collected) or a succeeded or pending refund (kind refund),
-- on its local day, in the reporting currency at that day's rate, with the customer's tenant ('__unassigned__' when
-- none; a refund's customer is its charge's).
with

charges as (

    select * from {{ ref('stg_stripe__charges') }}

),

refunds as (

    select * from {{ ref('stg_stripe__refunds') }}

),

customers as (

    select * from {{ ref('int_stripe__customer_tenants') }}

),

movements as (

    select
        'collected' as kind,
        charges.charge_id as object_id,
        charges.customer_id,
        charges.amount,
        charges.currency,
        {{ reporting_date('charges.created_at') }} as day
    from charges
    where charges.status = 'succeeded'

    union all

    select
        'refund' as kind,
        refunds.refund_id as object_id,
        charges.customer_id,
        refunds.amount,
        refunds.currency,
        {{ reporting_date('refunds.created_at') }} as day
    from refunds
    left join charges on refunds.charge_id = charges.charge_id
    where coalesce(refunds.status, 'succeeded') in ('succeeded', 'pending')

),

final as (

    select
        movements.kind,
        movements.object_id,
        movements.customer_id,
        coalesce(customers.tenant_id, '__unassigned__') as tenant_id,
        coalesce(customers.is_internal, false) as is_internal,
        movements.day,
        {{ to_reporting('movements.amount', 'movements.currency', 'movements.day') }} as amount
    from movements
    left join customers on movements.customer_id = customers.customer_id

)

select * from final
