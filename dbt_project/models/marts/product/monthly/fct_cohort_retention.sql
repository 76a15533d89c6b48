{#-
    Signup cohorts by month, for users (signup = users.created_at) and tenants (signup = tenants.created_at):
    one row per (cohort_type, cohort_month, period_type, period_number), a full matrix for heatmaps.
    Periods are anchored on each member's own signup day (day 0): week n = days 7n .. 7n + 6, month n =
    days 30n .. 30n + 29. A member is retained in period n when active at least once in it ("on" retention);
    retained_or_after counts members active in period n or any later one ("on or after", unbounded).
    A cell is observable only when the period has ended for every member of the cohort (the cohort's last
    signup day + the period's last day <= the last loaded day); cells not yet observable are NULL, not 0.
    Built from int_cohort_member_periods (one row per member and period active, kept incrementally), never from
    each user's every active day; its size is members x periods, not users x active days.
-#}
{%- set max_weeks = var('cohort_max_weeks') | int %}
{%- set max_months = var('cohort_max_months') | int %}

with

users as (

    select * from {{ ref('int_users_classified') }}
    where is_counted

),

tenants as (

    select * from {{ ref('int_tenants_classified') }}
    where is_counted

),

member_period_rows as (

    select * from {{ ref('int_cohort_member_periods') }}

),

as_of as (

    select {{ product_last_date() }} as as_of_date

),

members as (

    select
        'users' as cohort_type,
        user_id as member_id,
        signup_date as start_date

    from users
    where signup_date <= (select as_of_date from as_of)

    union all

    select
        'tenants' as cohort_type,
        tenant_id as member_id,
        created_date as start_date

    from tenants
    where created_date <= (select as_of_date from as_of)

),

period_types as (

    select *
    from (values ('week', 7, {{ max_weeks }}), ('month', 30, {{ max_months }})) as period_type (period_type, period_days, max_period)

),

-- the periods each member was active in by the as-of day (past the last period of the grid: one shared row)
member_periods as (

    select
        member_period_rows.cohort_type,
        member_period_rows.member_id,
        member_period_rows.period_type,
        member_period_rows.period_number

    from member_period_rows
    inner join members
        on
            member_period_rows.cohort_type = members.cohort_type
            and member_period_rows.member_id = members.member_id
    where member_period_rows.first_active_date <= (select as_of_date from as_of)

),

member_last_period as (

    select
        cohort_type,
        member_id,
        period_type,
        max(period_number) as last_period_number

    from member_periods
    group by cohort_type, member_id, period_type

),

cohorts as (

    select
        cohort_type,
        date_trunc('month', start_date)::date as cohort_month,
        count(*) as cohort_size,
        max(start_date) as last_start_date

    from members
    group by cohort_type, date_trunc('month', start_date)::date

),

grid as (

    select
        cohorts.cohort_type,
        cohorts.cohort_month,
        cohorts.cohort_size,
        period_types.period_type,
        period_number,
        period_number * period_types.period_days as period_start_day,
        period_number * period_types.period_days + period_types.period_days - 1 as period_end_day,
        cohorts.last_start_date + period_number * period_types.period_days + period_types.period_days - 1
        <= (select as_of_date from as_of) as is_observable

    from cohorts
    cross join period_types
    {{ join_series('0', 'period_types.max_period', 'period_number') }}

),

retained as (

    select
        members.cohort_type,
        date_trunc('month', members.start_date)::date as cohort_month,
        member_periods.period_type,
        member_periods.period_number,
        count(*) as retained_members

    from member_periods
    inner join members
        on
            member_periods.cohort_type = members.cohort_type
            and member_periods.member_id = members.member_id
    group by 1, 2, 3, 4

),

retained_or_after as (

    select
        grid.cohort_type,
        grid.cohort_month,
        grid.period_type,
        grid.period_number,
        count(*) as retained_members

    from grid
    inner join members
        on
            grid.cohort_type = members.cohort_type
            and grid.cohort_month = date_trunc('month', members.start_date)::date
    inner join member_last_period
        on
            members.cohort_type = member_last_period.cohort_type
            and members.member_id = member_last_period.member_id
            and grid.period_type = member_last_period.period_type
            and member_last_period.last_period_number >= grid.period_number
    group by 1, 2, 3, 4

),

final as (

    select
        grid.cohort_type::{{ text_type() }} as cohort_type,
        grid.cohort_month::date as cohort_month,
        grid.period_type::{{ text_type() }} as period_type,
        grid.period_number::integer as period_number,
        grid.period_start_day::integer as period_start_day,
        grid.period_end_day::integer as period_end_day,
        grid.cohort_size::integer as cohort_size,
        grid.is_observable::boolean as is_observable,
        case when grid.is_observable then coalesce(retained.retained_members, 0) end::integer as retained_members,
        case
            when grid.is_observable
                then {{ product_ratio('coalesce(retained.retained_members, 0)', 'grid.cohort_size') }}
        end as retention_rate,
        case when grid.is_observable then coalesce(retained_or_after.retained_members, 0) end::integer
            as retained_or_after_members,
        case
            when grid.is_observable
                then {{ product_ratio('coalesce(retained_or_after.retained_members, 0)', 'grid.cohort_size') }}
        end as retention_or_after_rate,
        (select as_of_date from as_of)::date as as_of_date

    from grid
    left join retained
        on
            grid.cohort_type = retained.cohort_type
            and grid.cohort_month = retained.cohort_month
            and grid.period_type = retained.period_type
            and grid.period_number = retained.period_number
    left join retained_or_after
        on
            grid.cohort_type = retained_or_after.cohort_type
            and grid.cohort_month = retained_or_after.cohort_month
            and grid.period_type = retained_or_after.period_type
            and grid.period_number = retained_or_after.period_number

)

select * from final
