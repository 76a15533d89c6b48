{#-
    Engagement on each row of int_daily_spine, from counted users' activity (int_user_daily_activity) by their app
    tenant: events, active tenants, DAU / WAU / MAU (active on the day / in the 7 / 30 days ending on it), users
    active month to date, and how many of the 30 days MAU users were active (buckets and average).
-#}

{{ config(post_hook="{{ late_rows_built() }}") }}
{%- set window = daily_metrics_window(late_rows_of='events') %}

with

{{ daily_metrics_imports(users=true, days=true, window=window) }}

activity as (

    select
        daily.user_id,
        users.tenant_id,
        daily.activity_date,
        daily.events

    from {{ ref('int_user_daily_activity') }} as daily
    inner join users
        on daily.user_id = users.user_id
    where
        daily.activity_date >= (
            select least(min(metric_date) - 29, date_trunc('month', min(metric_date))::date) from days
        )
        and daily.activity_date <= (select max(metric_date) from days)

),

user_windows as (

    select
        days.metric_date,
        activity.tenant_id,
        activity.user_id,
        bool_or(activity.activity_date = days.metric_date) as is_daily_active,
        bool_or(activity.activity_date > days.metric_date - 7) as is_weekly_active,
        count(*) filter (where activity.activity_date > days.metric_date - 30) as active_days_30d,
        bool_or(activity.activity_date >= date_trunc('month', days.metric_date)::date) as is_month_to_date_active,
        coalesce(sum(activity.events) filter (where activity.activity_date = days.metric_date), 0) as events_today

    from days
    inner join activity
        on
            activity.activity_date <= days.metric_date
            and activity.activity_date >= least(days.metric_date - 29, date_trunc('month', days.metric_date)::date)
    group by days.metric_date, activity.tenant_id, activity.user_id

),

engagement as (

    select
        metric_date,
        {{ tenant_or_all() }} as tenant_id,
        sum(events_today) as events_total,
        count(distinct tenant_id) filter (where is_daily_active) as tenants_active,
        count(*) filter (where is_daily_active) as dau,
        count(*) filter (where is_weekly_active) as wau,
        count(*) filter (where active_days_30d > 0) as mau,
        count(*) filter (where is_month_to_date_active) as active_users_month_to_date,
        count(*) filter (where active_days_30d = 1) as mau_active_1_day,
        count(*) filter (where active_days_30d between 2 and 7) as mau_active_2_7_days,
        count(*) filter (where active_days_30d between 8 and 14) as mau_active_8_14_days,
        count(*) filter (where active_days_30d >= 15) as mau_active_15_plus_days,
        avg(active_days_30d) filter (where active_days_30d > 0) as avg_active_days_30d

    from user_windows
    {{ group_by_tenant_and_all(['metric_date']) }}

),

final as (

    select
        spine.metric_date,
        spine.tenant_id,
        coalesce(engagement.events_total, 0) as events_total,
        coalesce(engagement.tenants_active, 0) as tenants_active,
        coalesce(engagement.dau, 0) as dau,
        coalesce(engagement.wau, 0) as wau,
        coalesce(engagement.mau, 0) as mau,
        coalesce(engagement.active_users_month_to_date, 0) as active_users_month_to_date,
        coalesce(engagement.mau_active_1_day, 0) as mau_active_1_day,
        coalesce(engagement.mau_active_2_7_days, 0) as mau_active_2_7_days,
        coalesce(engagement.mau_active_8_14_days, 0) as mau_active_8_14_days,
        coalesce(engagement.mau_active_15_plus_days, 0) as mau_active_15_plus_days,
        round(engagement.avg_active_days_30d, 2)::numeric(12, 2) as avg_active_days_30d

    from spine
    left join engagement
        on spine.metric_date = engagement.metric_date and spine.tenant_id = engagement.tenant_id

)

select * from final
