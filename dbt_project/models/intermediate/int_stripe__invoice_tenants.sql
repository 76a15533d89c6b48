-- one row per Stripe invoice (latest version) with its customer's tenant ('__unassigned__' when none), whether that
-- tenant is internal, and the current status of the invoice's subscription.
with

invoices as (

    select * from {{ ref('stg_stripe__invoices') }}

),

subscriptions as (

    select * from {{ ref('stg_stripe__subscriptions') }}

),

customers as (

    select * from {{ ref('int_stripe__customer_tenants') }}

),

final as (

    select
        invoices.*,
        coalesce(customers.tenant_id, '__unassigned__') as tenant_id,
        coalesce(customers.is_internal, false) as is_internal,
        subscriptions.status as subscription_status
    from invoices
    left join subscriptions on invoices.subscription_id = subscriptions.subscription_id
    left join customers on invoices.customer_id = customers.customer_id

)

select * from final
