{#-
    The daily executive snapshot: one row per (tenant_id, metric_date) for every counted tenant that exists on that
    local day, plus one all-tenants row per day (tenant_id = '__all__'). Counted = not internal; users count when
    they are not staff and not deleted. Definitions: docs/METRICS.md.

    The rows are int_daily_spine's; each domain is one intermediate model with exactly those rows (int_daily_customers,
    _engagement, _activation, _jobs, _api, _revenue, _revenue_changes), plus the past-due subscriptions of
    fct_subscription_status_daily.
    All of them are incremental by day: this model and most parts rebuild [min_date - margin, max_date], margin =
    max(lookback_days, activation_window_days - 1) (late events, and signup cohorts whose activation window is still
    open); see daily_metrics_window_start(). _api, _jobs and _engagement change only with late rows and rebuild
    [min_date - lookback_days, max_date]; for the older days this model reads the rows earlier runs built (all
    there, or the part rebuilds the whole window: daily_metrics_late_rows_start()). Revenue comes from daily models
    only: a monthly mart upstream would make this model monthly in Dagster. nrr / grr are month-to-date: on the
    month's last day (or the as-of day) they equal fct_revenue_monthly's.
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy=replace_keys_strategy(),
        partition_by=replace_keys_partition_by('metric_date'),
        unique_key='metric_date',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['metric_date']}, {'columns': ['tenant_id', 'metric_date'], 'unique': true}],
    )
}}
{#- the shared window, worked out once: each part below reads the same days -#}
{%- set window = daily_metrics_window() %}

with

spine as (

    select * from {{ ref('int_daily_spine') }}
    where {{ daily_metrics_in_window('metric_date', window) }}

),

customers as (

    select * from {{ ref('int_daily_customers') }}
    where {{ daily_metrics_in_window('metric_date', window) }}

),

engagement as (

    select * from {{ ref('int_daily_engagement') }}
    where {{ daily_metrics_in_window('metric_date', window) }}

),

activation as (

    select * from {{ ref('int_daily_activation') }}
    where {{ daily_metrics_in_window('metric_date', window) }}

),

jobs as (

    select * from {{ ref('int_daily_jobs') }}
    where {{ daily_metrics_in_window('metric_date', window) }}

),

api as (

    select * from {{ ref('int_daily_api') }}
    where {{ daily_metrics_in_window('metric_date', window) }}

),

revenue as (

    select * from {{ ref('int_daily_revenue') }}
    where {{ daily_metrics_in_window('metric_date', window) }}

),

revenue_changes as (

    select * from {{ ref('int_daily_revenue_changes') }}
    where {{ daily_metrics_in_window('metric_date', window) }}

),

subscription_status as (

    -- one row per day and tenant plus its own '__all__' row
    select
        day as metric_date,
        tenant_id,
        past_due

    from {{ ref('fct_subscription_status_daily') }}
    where {{ daily_metrics_in_window('day', window) }}

),

joined as (

    select
        spine.metric_date,
        spine.tenant_id,
        customers.tenants_total,
        customers.tenants_new,
        customers.tenants_churned,
        customers.tenants_reactivated,
        customers.tenants_at_start,
        engagement.tenants_active,
        engagement.events_total,
        engagement.dau,
        engagement.wau,
        engagement.mau,
        engagement.active_users_month_to_date,
        engagement.mau_active_1_day,
        engagement.mau_active_2_7_days,
        engagement.mau_active_8_14_days,
        engagement.mau_active_15_plus_days,
        engagement.avg_active_days_30d,
        activation.signups,
        activation.activated_users,
        activation.file_upload_users,
        activation.worklog_users,
        activation.report_users,
        activation.activation_window_complete,
        jobs.jobs_created,
        jobs.jobs_total,
        jobs.jobs_succeeded,
        jobs.jobs_failed,
        jobs.jobs_cancelled,
        jobs.jobs_avg_duration_s,
        jobs.jobs_p95_duration_s,
        api.api_requests,
        api.api_4xx,
        api.api_5xx,
        api.api_p50_latency_ms,
        api.api_p95_latency_ms,
        api.api_p99_latency_ms,
        revenue.mrr,
        revenue.paying_customers,
        revenue.starting_mrr,
        revenue.net_retained_mrr,
        revenue.gross_retained_mrr,
        coalesce(subscription_status.past_due, 0) as past_due_subscriptions,
        revenue.failed_payments,
        revenue_changes.mrr_change_pct,
        revenue_changes.paying_customers_churned

    from spine
    left join customers
        on spine.metric_date = customers.metric_date and spine.tenant_id = customers.tenant_id
    left join engagement
        on spine.metric_date = engagement.metric_date and spine.tenant_id = engagement.tenant_id
    left join activation
        on spine.metric_date = activation.metric_date and spine.tenant_id = activation.tenant_id
    left join jobs
        on spine.metric_date = jobs.metric_date and spine.tenant_id = jobs.tenant_id
    left join api
        on spine.metric_date = api.metric_date and spine.tenant_id = api.tenant_id
    left join revenue
        on spine.metric_date = revenue.metric_date and spine.tenant_id = revenue.tenant_id
    left join revenue_changes
        on spine.metric_date = revenue_changes.metric_date and spine.tenant_id = revenue_changes.tenant_id
    left join subscription_status
        on spine.metric_date = subscription_status.metric_date and spine.tenant_id = subscription_status.tenant_id

),

final as (

    select
        metric_date::date as metric_date,
        tenant_id::{{ text_type() }} as tenant_id,
        (tenant_id = '__all__')::boolean as is_all_tenants,
        {{ reporting_timezone_literal() }}::{{ text_type() }} as reporting_timezone,
        -- customers
        tenants_total::integer as tenants_total,
        tenants_new::integer as tenants_new,
        tenants_churned::integer as tenants_churned,
        tenants_reactivated::integer as tenants_reactivated,
        {{ product_ratio('tenants_churned', 'tenants_at_start', 6) }} as tenant_churn_rate,
        tenants_active::integer as tenants_active,
        -- engagement
        events_total::integer as events_total,
        dau::integer as dau,
        wau::integer as wau,
        mau::integer as mau,
        active_users_month_to_date::integer as active_users_month_to_date,
        {{ product_ratio('dau', 'mau') }} as dau_mau_ratio,
        {{ product_ratio('dau', 'wau') }} as dau_wau_ratio,
        mau_active_1_day::integer as mau_active_1_day,
        mau_active_2_7_days::integer as mau_active_2_7_days,
        mau_active_8_14_days::integer as mau_active_8_14_days,
        mau_active_15_plus_days::integer as mau_active_15_plus_days,
        avg_active_days_30d::{{ numeric_type() }} as avg_active_days_30d,
        -- activation
        signups::integer as signups,
        activated_users::integer as activated_users,
        {{ product_ratio('activated_users', 'signups') }} as activation_rate,
        {{ product_ratio('file_upload_users', 'signups') }} as file_upload_rate,
        {{ product_ratio('worklog_users', 'signups') }} as worklog_creation_rate,
        {{ product_ratio('report_users', 'signups') }} as report_generation_rate,
        activation_window_complete::boolean as activation_window_complete,
        -- jobs
        jobs_created::integer as jobs_created,
        jobs_total::integer as jobs_total,
        jobs_succeeded::integer as jobs_succeeded,
        jobs_failed::integer as jobs_failed,
        jobs_cancelled::integer as jobs_cancelled,
        {{ product_ratio('jobs_succeeded', 'jobs_succeeded + jobs_failed') }} as jobs_success_rate,
        jobs_avg_duration_s::{{ numeric_type() }} as jobs_avg_duration_s,
        jobs_p95_duration_s::{{ numeric_type() }} as jobs_p95_duration_s,
        -- api
        api_requests::integer as api_requests,
        api_4xx::integer as api_4xx,
        api_5xx::integer as api_5xx,
        {{ product_ratio('api_4xx', 'api_requests') }} as api_4xx_rate,
        {{ product_ratio('api_5xx', 'api_requests') }} as api_5xx_rate,
        api_p50_latency_ms::{{ numeric_type() }} as api_p50_latency_ms,
        api_p95_latency_ms::{{ numeric_type() }} as api_p95_latency_ms,
        api_p99_latency_ms::{{ numeric_type() }} as api_p99_latency_ms,
        -- revenue (reporting currency, major units)
        '{{ var("reporting_currency") }}'::{{ text_type() }} as reporting_currency,
        mrr::numeric(20, 4) as mrr,
        (mrr * 12)::numeric(20, 4) as arr,
        paying_customers::integer as paying_customers,
        (net_retained_mrr / nullif(starting_mrr, 0))::numeric(12, 6) as nrr,
        (gross_retained_mrr / nullif(starting_mrr, 0))::numeric(12, 6) as grr,
        past_due_subscriptions::integer as past_due_subscriptions,
        failed_payments::integer as failed_payments,
        mrr_change_pct::numeric(12, 6) as mrr_change_pct,
        paying_customers_churned::integer as paying_customers_churned

    from joined

)

select * from final
