-- one row per Stripe customer: its tenant (customer.metadata.tenant_id first, else the app's
-- tenants.stripe_customer_id link), whether that tenant is internal (internal tenants are excluded from revenue), and
-- the customer's own attributes.
with

customers as (

    select * from {{ ref('stg_stripe__customers') }}

),

app_tenants as (

    select * from {{ ref('stg_app__tenants') }}

),

app_links as (

    select
        stripe_customer_id,
        min(tenant_id) as tenant_id
    from app_tenants
    where stripe_customer_id is not null
    group by stripe_customer_id

),

linked as (

    select
        customers.customer_id,
        coalesce(customers.metadata_tenant_id, app_links.tenant_id) as tenant_id,
        case
            when customers.metadata_tenant_id is not null then 'metadata'
            when app_links.tenant_id is not null then 'app'
            else 'none'
        end as tenant_source,
        customers.email,
        customers.customer_name,
        customers.currency,
        customers.created_at,
        customers.is_deleted
    from customers
    left join app_links on customers.customer_id = app_links.stripe_customer_id

),

final as (

    select
        linked.customer_id,
        coalesce(linked.tenant_id, '__unassigned__') as tenant_id,
        linked.tenant_source,
        coalesce(app_tenants.is_internal, false) as is_internal,
        linked.email,
        linked.customer_name,
        linked.currency,
        linked.created_at,
        linked.is_deleted
    from linked
    left join app_tenants on linked.tenant_id = app_tenants.tenant_id

)

select * from final
