{#-
    Activation of the users who signed up on each day of int_daily_spine (counted users, signup = their local creation
    day): signups, activated users (>= activation_min_count activation_events within activation_window_days, the
    signup day being day 1), users who uploaded a file / created a worklog / generated a report in that window, and
    whether the window has been fully observed (its last day <= the last day of loaded activity).
-#}
{%- set activation_window_days = var('activation_window_days') | int %}
{%- set activation_min_count = var('activation_min_count') | int %}

with

{{ daily_metrics_imports(users=true) }}

daily_activity as (

    select * from {{ ref('int_user_daily_activity') }}

),

observed as (

    -- activation windows are read up to the last day loaded: a backfill of an old day sees its whole window
    select max(activity_date) as observed_through from daily_activity

),

signups as (

    select
        users.user_id,
        users.tenant_id,
        users.signup_date

    from users
    inner join spine
        on users.signup_date = spine.metric_date and spine.tenant_id = '__all__'

),

signup_actions as (

    select
        signups.user_id,
        signups.tenant_id,
        signups.signup_date,
        coalesce(sum(daily_activity.activation_events), 0) >= {{ activation_min_count }} as is_activated,
        coalesce(sum(daily_activity.file_uploads), 0) > 0 as did_upload_file,
        coalesce(sum(daily_activity.worklogs_created), 0) > 0 as did_create_worklog,
        coalesce(sum(daily_activity.reports_generated), 0) > 0 as did_generate_report

    from signups
    left join daily_activity
        on
            signups.user_id = daily_activity.user_id
            and daily_activity.activity_date
            between signups.signup_date and signups.signup_date + {{ activation_window_days - 1 }}
    group by signups.user_id, signups.tenant_id, signups.signup_date

),

activation as (

    select
        signup_date as metric_date,
        {{ tenant_or_all() }} as tenant_id,
        count(*) as signups,
        count(*) filter (where is_activated) as activated_users,
        count(*) filter (where did_upload_file) as file_upload_users,
        count(*) filter (where did_create_worklog) as worklog_users,
        count(*) filter (where did_generate_report) as report_users

    from signup_actions
    {{ group_by_tenant_and_all(['signup_date']) }}

),

final as (

    select
        spine.metric_date,
        spine.tenant_id,
        coalesce(activation.signups, 0) as signups,
        coalesce(activation.activated_users, 0) as activated_users,
        coalesce(activation.file_upload_users, 0) as file_upload_users,
        coalesce(activation.worklog_users, 0) as worklog_users,
        coalesce(activation.report_users, 0) as report_users,
        spine.metric_date + {{ activation_window_days - 1 }} <= (select observed_through from observed)
            as activation_window_complete

    from spine
    left join activation
        on spine.metric_date = activation.metric_date and spine.tenant_id = activation.tenant_id

)

select * from final
