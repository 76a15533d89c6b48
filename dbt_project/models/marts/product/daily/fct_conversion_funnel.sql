{#-
    Tenant conversion funnel per signup month (tenant created_at, local): one row per (signup_month, step).
    Steps, each counting tenants that reached it and every earlier step:
      1 signed_up     the tenant was created
      2 activated     its counted users did >= activation_min_count activation_events within activation_window_days
                      of the tenant's creation (creation day = day 1)
      3 first_report  a report was generated within funnel_window_days of creation
      4 paying        a Stripe customer of the tenant had MRR > 0 (fct_mrr_daily) on a day within funnel_window_days
                      of creation (product_funnel_has_paying() switches the step on)
    is_complete is false while some tenant of the month is still inside its funnel window.
-#}
{%- set activation_window_days = var('activation_window_days') | int %}
{%- set activation_min_count = var('activation_min_count') | int %}
{%- set funnel_window_days = var('funnel_window_days') | int %}

with

tenants as (

    select * from {{ ref('int_tenants_classified') }}
    where is_counted

),

users as (

    select * from {{ ref('int_users_classified') }}
    where is_counted

),

daily_activity as (

    select * from {{ ref('int_user_daily_activity') }}

),

{{ product_funnel_paying_import() }}

as_of as (

    select {{ product_last_date() }} as as_of_date

),

signed_up as (

    select
        tenant_id,
        created_date,
        date_trunc('month', created_date)::date as signup_month

    from tenants
    where created_date <= (select as_of_date from as_of)

),

tenant_actions as (

    select
        signed_up.tenant_id,
        coalesce(sum(daily_activity.activation_events) filter (
            where daily_activity.activity_date <= signed_up.created_date + {{ activation_window_days - 1 }}
        ), 0) as activation_events_in_window,
        min(daily_activity.activity_date) filter (
            where daily_activity.reports_generated > 0
        ) as first_report_date

    from signed_up
    inner join users
        on signed_up.tenant_id = users.tenant_id
    inner join daily_activity
        on
            users.user_id = daily_activity.user_id
            and daily_activity.activity_date >= signed_up.created_date
            and daily_activity.activity_date <= (select as_of_date from as_of)
    group by signed_up.tenant_id

),

tenant_steps as (

    select
        signed_up.signup_month,
        signed_up.created_date,
        true as is_signed_up,
        coalesce(tenant_actions.activation_events_in_window, 0) >= {{ activation_min_count }} as is_activated,
        coalesce(
            tenant_actions.first_report_date <= signed_up.created_date + {{ funnel_window_days - 1 }}, false
        ) as has_first_report,
        {{ product_funnel_paying_flag() }} as is_paying

    from signed_up
    left join tenant_actions
        on signed_up.tenant_id = tenant_actions.tenant_id
    {{ product_funnel_paying_join() }}

),

monthly as (

    select
        signup_month,
        max(created_date) as last_created_date,
        count(*) as step_1,
        count(*) filter (where is_activated) as step_2,
        count(*) filter (where is_activated and has_first_report) as step_3,
        count(*) filter (where is_activated and has_first_report and is_paying) as step_4

    from tenant_steps
    group by signup_month

),

steps as (

    select
        monthly.signup_month,
        monthly.last_created_date,
        step.step_number,
        step.step_name,
        step.tenants,
        lag(step.tenants) over (partition by monthly.signup_month order by step.step_number) as previous_tenants,
        monthly.step_1 as starting_tenants

    from monthly
    cross join lateral (
        values
        (1, 'signed_up', monthly.step_1),
        (2, 'activated', monthly.step_2),
        (
            3, 'first_report', monthly.step_3){% if product_funnel_has_paying() %},
        (4, 'paying', monthly.step_4){% endif %}
    ) as step (step_number, step_name, tenants)

),

final as (

    select
        signup_month::date as signup_month,
        step_number::integer as step_number,
        step_name::text as step_name,
        tenants::integer as tenants,
        {{ product_ratio('tenants', 'previous_tenants') }} as conversion_from_previous,
        {{ product_ratio('tenants', 'starting_tenants') }} as conversion_from_start,
        {{ funnel_window_days }}::integer as window_days,
        (last_created_date + {{ funnel_window_days - 1 }} <= (select as_of_date from as_of))::boolean as is_complete,
        (select as_of_date from as_of)::date as as_of_date

    from steps

)

select * from final
