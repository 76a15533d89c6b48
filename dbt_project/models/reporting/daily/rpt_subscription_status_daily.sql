-- subscriptions by state per day and tenant (fct_subscription_status_daily), with the tenant's name.
with

status as (

    select * from {{ ref('fct_subscription_status_daily') }}

),

{{ reporting_name_imports() }}

final as (

    select
        status.day::date as day,
        {{ tenant_name_columns('status') }}
        status.trialing::integer as trialing,
        status.active::integer as active,
        status.past_due::integer as past_due,
        status.unpaid::integer as unpaid,
        status.paused::integer as paused,
        status.canceled::integer as canceled
    from status
    {{ reporting_name_joins('status') }}

)

select * from final
