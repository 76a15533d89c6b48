{#-
    One row per counted tenant: the days it reached the product steps of fct_conversion_funnel, so the mart can tell
    each step as of any day without rescanning activity. activated_date: the day its counted users' activation_events
    since creation (creation day = day 1) reached activation_min_count within activation_window_days (null: not
    reached); first_report_date: its first report within funnel_window_days of creation (null: none).

    Incremental: only a tenant whose funnel window reaches into the days a run re-reads can change, so a run rebuilds
    the tenants created on or after [min_date - lookback_days - (funnel_window_days - 1)] from their own activity
    (int_user_daily_activity, by user), and keeps the others as they are.
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy=replace_keys_strategy(),
        partition_by=replace_keys_partition_by('tenant_id'),
        unique_key='tenant_id',
        indexes=[{'columns': ['tenant_id'], 'unique': true}, {'columns': ['created_date']}],
        on_schema_change='fail',
    )
}}

{%- set activation_window_days = var('activation_window_days') | int %}
{%- set activation_min_count = var('activation_min_count') | int %}
{%- set funnel_window_days = var('funnel_window_days') | int %}
{%- set margin = (var('lookback_days') | int) + funnel_window_days - 1 %}
{#- a full build reads every tenant -#}
{%- set rebuild_from = incremental_window_start('created_date', margin) if is_incremental() else none %}
{%- set first_day = rebuild_from if rebuild_from is not none else "date '0001-01-01'" %}

with

tenants as (

    select * from {{ ref('int_tenants_classified') }}
    where is_counted and created_date between {{ first_day }} and {{ product_last_date() }}

),

users as (

    select * from {{ ref('int_users_classified') }}
    where is_counted

),

daily_activity as (

    select * from {{ ref('int_user_daily_activity') }}

),

tenant_days as (

    select
        tenants.tenant_id,
        daily_activity.activity_date,
        sum(daily_activity.activation_events) filter (
            where daily_activity.activity_date <= tenants.created_date + {{ activation_window_days - 1 }}
        ) as activation_events,
        sum(daily_activity.reports_generated) as reports_generated

    from tenants
    inner join users
        on tenants.tenant_id = users.tenant_id
    inner join daily_activity
        on
            users.user_id = daily_activity.user_id
            and daily_activity.activity_date >= tenants.created_date
            and daily_activity.activity_date <= tenants.created_date + {{ funnel_window_days - 1 }}
            and daily_activity.activity_date <= {{ product_last_date() }}
    group by tenants.tenant_id, daily_activity.activity_date

),

running as (

    select
        tenant_id,
        activity_date,
        reports_generated,
        sum(coalesce(activation_events, 0)) over (
            partition by tenant_id order by activity_date rows unbounded preceding
        ) as activation_events_to_date

    from tenant_days

),

tenant_actions as (

    select
        tenant_id,
        min(activity_date) filter (where activation_events_to_date >= {{ activation_min_count }}) as activated_date,
        min(activity_date) filter (where reports_generated > 0) as first_report_date

    from running
    group by tenant_id

),

final as (

    select
        tenants.tenant_id::{{ text_type() }} as tenant_id,
        tenants.created_date::date as created_date,
        {%- if activation_min_count <= 0 %}
            tenants.created_date::date as activated_date,
        {%- else %}
            tenant_actions.activated_date::date as activated_date,
        {%- endif %}
        tenant_actions.first_report_date::date as first_report_date

    from tenants
    left join tenant_actions
        on tenants.tenant_id = tenant_actions.tenant_id

)

select * from final
