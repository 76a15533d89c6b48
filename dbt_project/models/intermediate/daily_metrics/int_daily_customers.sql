{#-
    Customers on each row of int_daily_spine: tenants existing at the end of the day, new (created that day), churned
    (deleted that day), existing at its start, and reactivated (active that day after reactivation_dormant_days
    without activity, created before that gap). The '__all__' row also counts reactivated tenants no longer in the
    spine (deleted, yet active).
-#}
{%- set dormant_days = var('reactivation_dormant_days') | int %}

with

{{ daily_metrics_imports(tenants=true, users=true, days=true) }}

tenant_days as (

    select
        spine.metric_date,
        tenants.tenant_id,
        (tenants.deleted_date is null or tenants.deleted_date > spine.metric_date) as is_live_at_end,
        (
            tenants.created_date < spine.metric_date
            and (tenants.deleted_date is null or tenants.deleted_date >= spine.metric_date)
        ) as is_live_at_start,
        tenants.created_date = spine.metric_date as is_new,
        coalesce(tenants.deleted_date = spine.metric_date, false) as is_churned

    from spine
    inner join tenants
        on spine.tenant_id = tenants.tenant_id

),

customers as (

    select
        metric_date,
        {{ tenant_or_all() }} as tenant_id,
        count(*) filter (where is_live_at_end) as tenants_total,
        count(*) filter (where is_new) as tenants_new,
        count(*) filter (where is_churned) as tenants_churned,
        count(*) filter (where is_live_at_start) as tenants_at_start

    from tenant_days
    {{ group_by_tenant_and_all(['metric_date']) }}

),

tenant_activity_days as (

    select distinct
        users.tenant_id,
        activity.activity_date

    from {{ ref('int_user_daily_activity') }} as activity
    inner join users
        on activity.user_id = users.user_id
    where
        activity.activity_date >= (select min(metric_date) from days) - {{ dormant_days }}
        and activity.activity_date <= (select max(metric_date) from days)

),

reactivated_tenants as (

    select
        days.metric_date,
        active.tenant_id

    from days
    inner join tenant_activity_days as active
        on active.activity_date = days.metric_date
    inner join tenants
        on active.tenant_id = tenants.tenant_id
    where
        tenants.created_date < days.metric_date - {{ dormant_days }}
        and not exists (
            select 1
            from tenant_activity_days as earlier
            where
                earlier.tenant_id = active.tenant_id
                and earlier.activity_date between days.metric_date - {{ dormant_days }} and days.metric_date - 1
        )

),

reactivations as (

    select
        metric_date,
        {{ tenant_or_all() }} as tenant_id,
        count(*) as tenants_reactivated

    from reactivated_tenants
    {{ group_by_tenant_and_all(['metric_date']) }}

),

final as (

    select
        spine.metric_date,
        spine.tenant_id,
        coalesce(customers.tenants_total, 0) as tenants_total,
        coalesce(customers.tenants_new, 0) as tenants_new,
        coalesce(customers.tenants_churned, 0) as tenants_churned,
        coalesce(customers.tenants_at_start, 0) as tenants_at_start,
        coalesce(reactivations.tenants_reactivated, 0) as tenants_reactivated

    from spine
    left join customers
        on spine.metric_date = customers.metric_date and spine.tenant_id = customers.tenant_id
    left join reactivations
        on spine.metric_date = reactivations.metric_date and spine.tenant_id = reactivations.tenant_id

)

select * from final
