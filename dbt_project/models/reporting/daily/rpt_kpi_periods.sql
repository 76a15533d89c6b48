{#-
    The fresh KPIs at day, week (ISO, Monday first) and month grain: one row per (grain, period_start, tenant_id)
    for every tenant row of fct_daily_metrics ('__all__' included), as of the period's last loaded day (the whole
    period once it is over; period-to-date for the current one). Every KPI of reporting_period_kpis() comes with
    <kpi>_previous (the previous period to the same day: a week-to-date Wednesday against last week's Wednesday; a
    whole period against the whole previous period) and <kpi>_last_year (the same period a year earlier, to the same
    day). Definitions: docs/METRICS.md (Reporting).
-#}
{%- set kpis = reporting_period_kpis() -%}
with

daily as (

    select * from {{ ref('fct_daily_metrics') }}

),

{{ reporting_name_imports() }}

grains as (

    select grain
    from (values {% for grain in reporting_grains() %}('{{ grain }}'){% if not loop.last %}, {% endif %}{% endfor %}) as g (grain)

),

day_periods as (

    select
        daily.*,
        grains.grain,
        {{ reporting_period_start('grains.grain', 'daily.metric_date') }} as period_start
    from daily
    cross join grains

),

running as (

    -- the period-to-date values on every day of every period
    select
        tenant_id,
        grain,
        period_start,
        metric_date,
        mrr,
        paying_customers,
        nrr,
        grr,
        past_due_subscriptions,
        tenants_total,
        wau,
        mau,
        count(*) over period_to_date as days_to_date,
        sum(dau) over period_to_date as sum_dau,
        sum(failed_payments) over period_to_date as sum_failed_payments,
        sum(tenants_new) over period_to_date as sum_tenants_new,
        sum(tenants_churned) over period_to_date as sum_tenants_closed,
        sum(events_total) over period_to_date as sum_events,
        sum(signups) over period_to_date as sum_signups,
        sum(activated_users) over period_to_date as sum_activated_users,
        sum(case when activation_window_complete then signups else 0 end) over period_to_date as sum_signups_complete,
        sum(case when activation_window_complete then activated_users else 0 end) over period_to_date
            as sum_activated_complete,
        sum(jobs_succeeded) over period_to_date as sum_jobs_succeeded,
        sum(jobs_failed) over period_to_date as sum_jobs_failed,
        sum(jobs_cancelled) over period_to_date as sum_jobs_cancelled,
        -- durations: the day's mean and p95 weighted by the day's timed jobs (succeeded + failed)
        sum(case when jobs_avg_duration_s is not null then jobs_succeeded + jobs_failed else 0 end)
            over period_to_date as sum_jobs_timed,
        sum(jobs_avg_duration_s * (jobs_succeeded + jobs_failed)) over period_to_date as sum_job_duration_s,
        sum(jobs_p95_duration_s * (jobs_succeeded + jobs_failed)) over period_to_date as sum_job_p95_s,
        sum(api_requests) over period_to_date as sum_api_requests,
        sum(api_4xx) over period_to_date as sum_api_4xx,
        sum(api_5xx) over period_to_date as sum_api_5xx,
        -- latency percentiles: the day's percentile weighted by the day's requests
        sum(case when api_p50_latency_ms is not null then api_requests else 0 end) over period_to_date
            as sum_api_timed,
        sum(api_p50_latency_ms * api_requests) over period_to_date as sum_api_p50_ms,
        sum(api_p95_latency_ms * api_requests) over period_to_date as sum_api_p95_ms,
        sum(api_p99_latency_ms * api_requests) over period_to_date as sum_api_p99_ms
    from day_periods
    window period_to_date as (
        partition by tenant_id, grain, period_start order by metric_date rows between unbounded preceding and current row
    )

),

to_date as (

    select
        tenant_id,
        grain,
        period_start,
        metric_date,
        {{ days_between('period_start', 'metric_date') }} as day_offset,
        {% for name, expression, type in kpis -%}
            ({{ expression }})::{{ type }} as {{ name }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from running

),

last_days as (

    select
        tenant_id,
        grain,
        period_start,
        max(metric_date) as as_of_date
    from to_date
    group by tenant_id, grain, period_start

),

periods as (

    -- each period as of its last loaded day
    select
        to_date.*,
        {{ reporting_period_end('to_date.grain', 'to_date.period_start') }} as period_end,
        {{ reporting_comparison_start('to_date.grain', 'to_date.period_start', 'previous') }} as previous_period_start,
        {{ reporting_comparison_start('to_date.grain', 'to_date.period_start', 'last_year') }} as last_year_period_start
    from to_date
    inner join last_days
        on
            to_date.tenant_id = last_days.tenant_id
            and to_date.grain = last_days.grain
            and to_date.period_start = last_days.period_start
            and to_date.metric_date = last_days.as_of_date

),

compared as (

    -- a whole period is compared with a whole period; a period to date with the same number of days of the other
    select
        periods.*,
        periods.metric_date = periods.period_end as is_complete,
        case
            when periods.metric_date = periods.period_end
                then {{ reporting_period_end('periods.grain', 'periods.previous_period_start') }}
            else least(
                periods.previous_period_start + periods.day_offset,
                {{ reporting_period_end('periods.grain', 'periods.previous_period_start') }}
            )
        end as previous_as_of_date,
        case
            when periods.metric_date = periods.period_end
                then {{ reporting_period_end('periods.grain', 'periods.last_year_period_start') }}
            else least(
                periods.last_year_period_start + periods.day_offset,
                {{ reporting_period_end('periods.grain', 'periods.last_year_period_start') }}
            )
        end as last_year_as_of_date
    from periods

),

final as (

    select
        compared.grain::{{ text_type() }} as grain,
        compared.period_start::date as period_start,
        compared.period_end::date as period_end,
        compared.metric_date::date as as_of_date,
        compared.is_complete::boolean as is_complete,
        compared.tenant_id::{{ text_type() }} as tenant_id,
        tenants.tenant_name::{{ text_type() }} as tenant_name,
        tenants.plan::{{ text_type() }} as plan,
        tenants.segment::{{ text_type() }} as segment,
        (compared.tenant_id = '__all__')::boolean as is_all_tenants,
        tenants.reporting_currency::{{ text_type() }} as reporting_currency,
        compared.previous_period_start::date as previous_period_start,
        compared.previous_as_of_date::date as previous_as_of_date,
        compared.last_year_period_start::date as last_year_period_start,
        compared.last_year_as_of_date::date as last_year_as_of_date,
        {% for name, expression, type in kpis -%}
            compared.{{ name }},
            previous.{{ name }} as {{ name }}_previous,
            last_year.{{ name }} as {{ name }}_last_year,
        {% endfor -%}
        -- a scalar subquery, computed once: as a one-row CTE cross-joined here, the planner could (misjudging the
        -- rows it joins to) recompute the max for every output row, rows x days (6.5 of 6.9 s at 200 tenants)
        (select max(metric_date) from daily)::date as latest_day
    from compared
    {{ reporting_name_joins('compared') }}
    left join to_date as previous
        on
            compared.tenant_id = previous.tenant_id
            and compared.grain = previous.grain
            and compared.previous_period_start = previous.period_start
            and compared.previous_as_of_date = previous.metric_date
    left join to_date as last_year
        on
            compared.tenant_id = last_year.tenant_id
            and compared.grain = last_year.grain
            and compared.last_year_period_start = last_year.period_start
            and compared.last_year_as_of_date = last_year.metric_date

)

select * from final
