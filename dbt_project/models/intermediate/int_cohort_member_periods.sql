{#-
    One row per (cohort_type, member_id, period_type, period_number) in which a cohort member was active, with the
    first day of activity in that period: the per-member part of fct_cohort_retention, kept incrementally so that the
    mart never rescans every user's every active day. Members and periods as in fct_cohort_retention: users (signup =
    users.created_at) and tenants (signup = tenants.created_at; a tenant is active on a day one of its counted users
    is), week n = days 7n .. 7n + 6 and month n = days 30n .. 30n + 29 after the member's own signup day. Periods past
    cohort_max_weeks / cohort_max_months share one row (period_number = max + 1): the mart needs only "active in some
    later period" from them. first_active_date lets the mart count a period as of any day (active by then).

    Incremental: a run reads the activity of its own days [min_date, max_date] and, before them, of the days loads of
    events reached since its last build, at most lookback_days back (late_rows_start; int_user_daily_activity,
    indexed by day), and writes, for every period it touches, the first day read where no earlier one is stored (a
    new period, or a late row before the stored first day); the other periods' rows are left untouched. A change of
    the cohort vars, or of who is counted for past activity, needs a full refresh. On Spark (Parquet tables cannot
    update rows in place) it is a table that every run builds whole, from all activity.
-#}
{{
    config(
        materialized='table' if target.type == 'spark' else 'incremental',
        incremental_strategy='delete+insert',
        unique_key=['cohort_type', 'member_id', 'period_type', 'period_number'],
        indexes=[{'columns': ['cohort_type', 'member_id', 'period_type', 'period_number'], 'unique': true}],
        on_schema_change='fail',
        post_hook="{{ late_rows_built() }}",
    )
}}

{%- set max_weeks = var('cohort_max_weeks') | int %}
{%- set max_months = var('cohort_max_months') | int %}
{#- a full build reads all activity -#}
{%- set rebuild_from = late_rows_start('first_active_date', 'events', product_last_date()) %}
{%- set first_day = rebuild_from if rebuild_from is not none else "date '0001-01-01'" %}

with

users as (

    select * from {{ ref('int_users_classified') }}
    where is_counted

),

tenants as (

    select * from {{ ref('int_tenants_classified') }}
    where is_counted

),

daily_activity as (

    select * from {{ ref('int_user_daily_activity') }}
    where activity_date between {{ first_day }} and {{ product_last_date() }}

),

member_activity as (

    select
        'users' as cohort_type,
        users.user_id as member_id,
        users.signup_date as start_date,
        daily_activity.activity_date

    from daily_activity
    inner join users
        on daily_activity.user_id = users.user_id
    where daily_activity.activity_date >= users.signup_date

    union

    select
        'tenants' as cohort_type,
        tenants.tenant_id as member_id,
        tenants.created_date as start_date,
        daily_activity.activity_date

    from daily_activity
    inner join users
        on daily_activity.user_id = users.user_id
    inner join tenants
        on users.tenant_id = tenants.tenant_id
    where daily_activity.activity_date >= tenants.created_date

),

period_types as (

    select *
    from (values ('week', 7, {{ max_weeks }}), ('month', 30, {{ max_months }})) as period_type (period_type, period_days, max_period)

),

periods as (

    select
        member_activity.cohort_type,
        member_activity.member_id,
        period_types.period_type,
        least(
            {{ int_div(days_between('member_activity.start_date', 'member_activity.activity_date'), 'period_types.period_days') }},
            period_types.max_period + 1
        ) as period_number,
        min(member_activity.activity_date) as first_active_date

    from member_activity
    cross join period_types
    group by 1, 2, 3, 4

),

stored as (

    -- the periods built before (none on a full build)
    select * from {{ this if is_incremental() else 'periods' }}
    where {{ is_incremental() }}

),

final as (

    select
        periods.cohort_type::{{ text_type() }} as cohort_type,
        periods.member_id::{{ text_type() }} as member_id,
        periods.period_type::{{ text_type() }} as period_type,
        periods.period_number::integer as period_number,
        periods.first_active_date::date as first_active_date

    from periods
    left join stored
        on
            periods.cohort_type = stored.cohort_type
            and periods.member_id = stored.member_id
            and periods.period_type = stored.period_type
            and periods.period_number = stored.period_number
    -- a period stored with this first day or an earlier one is left as it is: delete+insert rewrites only the rows
    -- this returns (every active member's week and month row, every day, before: 811k rows a day at scale 1)
    where stored.first_active_date is null or periods.first_active_date < stored.first_active_date

)

select * from final
