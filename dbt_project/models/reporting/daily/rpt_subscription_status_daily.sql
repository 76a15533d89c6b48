-- subscriptions by state per day and tenant (fct_subscription_status_daily), with the tenant's name.
with

status as (

    select * from {{ ref('fct_subscription_status_daily') }}

),

tenants as (

    select * from {{ ref('rpt_tenants') }}

),

final as (

    select
        status.day::date as day,
        status.tenant_id::text as tenant_id,
        coalesce(tenants.tenant_name, status.tenant_id)::text as tenant_name,
        tenants.plan::text as plan,
        tenants.segment::text as segment,
        status.trialing::integer as trialing,
        status.active::integer as active,
        status.past_due::integer as past_due,
        status.unpaid::integer as unpaid,
        status.paused::integer as paused,
        status.canceled::integer as canceled
    from status
    left join tenants on status.tenant_id = tenants.tenant_id

)

select * from final
