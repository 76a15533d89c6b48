{#-
    The daily executive snapshot: one row per (tenant_id, metric_date) for every counted tenant that exists
    on that local day, plus one all-tenants row per day (tenant_id = '__all__'). Counted = not internal;
    users count when they are not staff and not deleted. Definitions: docs/METRICS.md.

    Incremental by day: a run rebuilds [min_date - margin, max_date] where margin = max(lookback_days,
    activation_window_days - 1) (late events, and signup cohorts whose activation window is still open).
    Rolling counts read int_user_daily_activity for at most 30 (or reactivation_dormant_days) days before the
    first rebuilt day, so a daily run's cost depends on that day's data, not on the length of history.

    Revenue columns come from the daily revenue models only (fct_mrr_daily, int_mrr_customer_months,
    fct_subscription_status_daily, Stripe staging): a monthly-partitioned mart (fct_revenue_monthly,
    fct_failed_payments) upstream would make this model monthly in Dagster and stale between monthly runs.
    nrr / grr are month-to-date: on the month's last day (or the as-of day) they equal fct_revenue_monthly's.
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='metric_date',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['metric_date']}, {'columns': ['tenant_id', 'metric_date'], 'unique': true}],
    )
}}

{%- set activation_window_days = var('activation_window_days') | int %}
{%- set activation_min_count = var('activation_min_count') | int %}
{%- set dormant_days = var('reactivation_dormant_days') | int %}
{%- set history_days = [30, dormant_days] | max %}
{%- set lower_bound = daily_metrics_window_start() %}

with

tenants as (

    select * from {{ ref('int_tenants_classified') }}
    where is_counted

),

users as (

    select * from {{ ref('int_users_classified') }}
    where is_counted

),

excluded_users as (

    select user_id from {{ ref('int_users_classified') }}
    where not is_counted

),

bounds as (

    select
        greatest(
            (select min(created_date) from tenants),
            {{ lower_bound if lower_bound is not none else 'null::date' }}
        ) as first_day,
        {{ product_last_date() }} as last_day,
        -- the last day the activity model has loaded: activation windows are read up to it (a backfill of an
        -- old day sees the whole window, exactly as a full build does)
        (select max(activity_date) from {{ ref('int_user_daily_activity') }}) as observed_through

),

days as (

    select day::date as metric_date
    from bounds
    cross join lateral generate_series(bounds.first_day, bounds.last_day, interval '1 day') as day

),

activity as (

    select
        daily.user_id,
        users.tenant_id,
        daily.activity_date,
        daily.events,
        daily.activation_events,
        daily.file_uploads,
        daily.worklogs_created,
        daily.reports_generated

    from {{ ref('int_user_daily_activity') }} as daily
    inner join users
        on daily.user_id = users.user_id
    where
        daily.activity_date >= (select first_day from bounds) - {{ history_days }}
        and daily.activity_date <= (select last_day from bounds) + {{ activation_window_days - 1 }}

),

-- customers ---------------------------------------------------------------------------------------------

tenant_days as (

    select
        days.metric_date,
        tenants.tenant_id,
        (tenants.deleted_date is null or tenants.deleted_date > days.metric_date) as is_live_at_end,
        (
            tenants.created_date < days.metric_date
            and (tenants.deleted_date is null or tenants.deleted_date >= days.metric_date)
        ) as is_live_at_start,
        tenants.created_date = days.metric_date as is_new,
        coalesce(tenants.deleted_date = days.metric_date, false) as is_churned

    from days
    inner join tenants
        on
            tenants.created_date <= days.metric_date
            and (tenants.deleted_date is null or tenants.deleted_date >= days.metric_date)

),

customers as (

    select
        metric_date,
        case when grouping(tenant_id) = 1 then '__all__' else tenant_id end as tenant_id,
        count(*) filter (where is_live_at_end) as tenants_total,
        count(*) filter (where is_new) as tenants_new,
        count(*) filter (where is_churned) as tenants_churned,
        count(*) filter (where is_live_at_start) as tenants_at_start

    from tenant_days
    group by grouping sets ((metric_date, tenant_id), (metric_date))

),

tenant_activity_days as (

    select distinct
        tenant_id,
        activity_date

    from activity

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
        case when grouping(tenant_id) = 1 then '__all__' else tenant_id end as tenant_id,
        count(*) as tenants_reactivated

    from reactivated_tenants
    group by grouping sets ((metric_date, tenant_id), (metric_date))

),

-- engagement --------------------------------------------------------------------------------------------

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
        case when grouping(tenant_id) = 1 then '__all__' else tenant_id end as tenant_id,
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
    group by grouping sets ((metric_date, tenant_id), (metric_date))

),

-- activation (the cohort of users who signed up on metric_date) -------------------------------------------

signups as (

    select
        users.user_id,
        users.tenant_id,
        users.signup_date

    from users
    inner join days
        on users.signup_date = days.metric_date

),

signup_actions as (

    select
        signups.user_id,
        signups.tenant_id,
        signups.signup_date,
        coalesce(sum(activity.activation_events), 0) >= {{ activation_min_count }} as is_activated,
        coalesce(sum(activity.file_uploads), 0) > 0 as did_upload_file,
        coalesce(sum(activity.worklogs_created), 0) > 0 as did_create_worklog,
        coalesce(sum(activity.reports_generated), 0) > 0 as did_generate_report

    from signups
    left join activity
        on
            signups.user_id = activity.user_id
            and activity.activity_date between signups.signup_date and signups.signup_date + {{ activation_window_days - 1 }}
    group by signups.user_id, signups.tenant_id, signups.signup_date

),

activation as (

    select
        signup_date as metric_date,
        case when grouping(tenant_id) = 1 then '__all__' else tenant_id end as tenant_id,
        count(*) as signups,
        count(*) filter (where is_activated) as activated_users,
        count(*) filter (where did_upload_file) as file_upload_users,
        count(*) filter (where did_create_worklog) as worklog_users,
        count(*) filter (where did_generate_report) as report_users

    from signup_actions
    group by grouping sets ((signup_date, tenant_id), (signup_date))

),

-- jobs --------------------------------------------------------------------------------------------------

jobs_window as (

    select
        job_id,
        tenant_id,
        job_status,
        created_at,
        started_at,
        coalesce(finished_at, updated_at) as ended_at

    from {{ ref('stg_app__jobs') }}
    where
        tenant_id in (select tenant_id from tenants)
        and (
            (
                created_at >= {{ reporting_day_start('(select first_day from bounds)') }}
                and created_at < {{ reporting_day_start('(select last_day from bounds) + 1') }}
            )
            or (
                job_status in ('succeeded', 'failed', 'cancelled')
                and coalesce(finished_at, updated_at) >= {{ reporting_day_start('(select first_day from bounds)') }}
                and coalesce(finished_at, updated_at) < {{ reporting_day_start('(select last_day from bounds) + 1') }}
            )
        )

),

jobs_created as (

    select
        {{ reporting_date('created_at') }} as metric_date,
        case when grouping(tenant_id) = 1 then '__all__' else tenant_id end as tenant_id,
        count(*) as jobs_created

    from jobs_window
    where
        created_at >= {{ reporting_day_start('(select first_day from bounds)') }}
        and created_at < {{ reporting_day_start('(select last_day from bounds) + 1') }}
    group by grouping sets (({{ reporting_date('created_at') }}, tenant_id), ({{ reporting_date('created_at') }}))

),

jobs_ended as (

    select
        {{ reporting_date('ended_at') }} as metric_date,
        tenant_id,
        job_status,
        case
            when job_status in ('succeeded', 'failed') and started_at is not null and ended_at >= started_at
                then extract(epoch from ended_at - started_at)
        end as duration_s

    from jobs_window
    where
        job_status in ('succeeded', 'failed', 'cancelled')
        and ended_at >= {{ reporting_day_start('(select first_day from bounds)') }}
        and ended_at < {{ reporting_day_start('(select last_day from bounds) + 1') }}

),

jobs_outcomes as (

    select
        metric_date,
        case when grouping(tenant_id) = 1 then '__all__' else tenant_id end as tenant_id,
        count(*) as jobs_total,
        count(*) filter (where job_status = 'succeeded') as jobs_succeeded,
        count(*) filter (where job_status = 'failed') as jobs_failed,
        count(*) filter (where job_status = 'cancelled') as jobs_cancelled,
        avg(duration_s) as jobs_avg_duration_s,
        percentile_cont(0.95) within group (order by duration_s) as jobs_p95_duration_s

    from jobs_ended
    group by grouping sets ((metric_date, tenant_id), (metric_date))

),

-- api ---------------------------------------------------------------------------------------------------

api_window as (

    select
        {{ reporting_date('occurred_at') }} as metric_date,
        tenant_id,
        status_code,
        duration_ms

    from {{ ref('stg_app__api_requests') }}
    where
        occurred_at >= {{ reporting_day_start('(select first_day from bounds)') }}
        and occurred_at < {{ reporting_day_start('(select last_day from bounds) + 1') }}
        and tenant_id in (select tenant_id from tenants)
        and (user_id is null or user_id not in (select user_id from excluded_users))

),

api as (

    select
        metric_date,
        case when grouping(tenant_id) = 1 then '__all__' else tenant_id end as tenant_id,
        count(*) as api_requests,
        count(*) filter (where status_code between 400 and 499) as api_4xx,
        count(*) filter (where status_code between 500 and 599) as api_5xx,
        percentile_cont(0.50) within group (order by duration_ms) as api_p50_latency_ms,
        percentile_cont(0.95) within group (order by duration_ms) as api_p95_latency_ms,
        percentile_cont(0.99) within group (order by duration_ms) as api_p99_latency_ms

    from api_window
    group by grouping sets ((metric_date, tenant_id), (metric_date))

),

-- revenue (from the daily revenue models) ------------------------------------------------------------------
-- The '__all__' rows aggregate every non-internal Stripe customer (also those without an app tenant,
-- '__unassigned__', and tenants no longer in the spine), exactly like the revenue marts' own '__all__' rows; a
-- customer belongs to one tenant, so nothing is counted twice.

mrr_ledger as (

    select
        customer_id,
        tenant_id,
        day,
        mrr,
        mrr_original_minor

    from {{ ref('fct_mrr_daily') }}
    where
        day >= (select first_day from bounds)
        and day <= (select last_day from bounds)

),

ledger_daily as (

    select
        day as metric_date,
        case when grouping(tenant_id) = 1 then '__all__' else tenant_id end as tenant_id,
        sum(mrr) as mrr,
        count(distinct customer_id) filter (where mrr > 0) as paying_customers

    from mrr_ledger
    group by grouping sets ((day, tenant_id), (day))

),

-- customers paying at the start of each month (MRR on the previous month's last day), as fct_mrr_movements
month_starts as (

    select
        customer_id,
        tenant_id,
        month,
        starting_mrr,
        starting_mrr_original_minor

    from {{ ref('int_mrr_customer_months') }}
    where
        starting_mrr > 0
        and month >= date_trunc('month', (select first_day from bounds))::date
        and month <= (select last_day from bounds)

),

-- each starting customer's MRR on the day at the month-start exchange rate (the FX movement is not retention;
-- under half a cent it is rounding and stays in, as in fct_mrr_movements)
retention_customer_days as (

    select
        days.metric_date,
        month_starts.tenant_id,
        month_starts.starting_mrr,
        case
            when coalesce(mrr_ledger.mrr, 0) <= 0 then 0
            when month_starts.starting_mrr_original_minor = 0 then mrr_ledger.mrr
            else mrr_ledger.mrr - case
                when abs(round(
                    mrr_ledger.mrr
                    - mrr_ledger.mrr_original_minor * month_starts.starting_mrr / month_starts.starting_mrr_original_minor,
                    4
                )) < 0.005 then 0
                else round(
                    mrr_ledger.mrr
                    - mrr_ledger.mrr_original_minor * month_starts.starting_mrr / month_starts.starting_mrr_original_minor,
                    4
                )
            end
        end as retained_mrr

    from days
    inner join month_starts
        on month_starts.month = date_trunc('month', days.metric_date)::date
    left join mrr_ledger
        on
            month_starts.customer_id = mrr_ledger.customer_id
            and days.metric_date = mrr_ledger.day

),

retention_daily as (

    select
        metric_date,
        case when grouping(tenant_id) = 1 then '__all__' else tenant_id end as tenant_id,
        sum(starting_mrr) as starting_mrr,
        sum(retained_mrr) as net_retained_mrr,
        sum(least(retained_mrr, starting_mrr)) as gross_retained_mrr

    from retention_customer_days
    group by grouping sets ((metric_date, tenant_id), (metric_date))

),

subscription_status as (

    -- already one row per day and tenant plus its own '__all__' row
    select
        day as metric_date,
        tenant_id,
        past_due

    from {{ ref('fct_subscription_status_daily') }}
    where
        day >= (select first_day from bounds)
        and day <= (select last_day from bounds)

),

stripe_customers as (

    select * from {{ ref('int_stripe__customer_tenants') }}

),

failed_charges as (

    select * from {{ ref('stg_stripe__charges') }}
    where status = 'failed'

),

-- failed payment attempts: every failed charge, plus payment intents with a last_payment_error and no failed
-- charge (an intent's failed attempt is a failed charge: counting both objects would count it twice)
failed_attempts as (

    select
        customer_id,
        {{ reporting_date('created_at') }} as metric_date

    from failed_charges

    union all

    select
        intents.customer_id,
        {{ reporting_date('intents.created_at') }} as metric_date

    from {{ ref('stg_stripe__payment_intents') }} as intents
    where
        intents.has_payment_error
        and not exists (
            select 1
            from failed_charges
            where failed_charges.payment_intent_id = intents.payment_intent_id
        )

),

failed_attempt_tenants as (

    select
        failed_attempts.metric_date,
        coalesce(stripe_customers.tenant_id, '__unassigned__') as tenant_id

    from failed_attempts
    left join stripe_customers
        on failed_attempts.customer_id = stripe_customers.customer_id
    where
        not coalesce(stripe_customers.is_internal, false)
        and failed_attempts.metric_date >= (select first_day from bounds)
        and failed_attempts.metric_date <= (select last_day from bounds)

),

failed_payments as (

    select
        metric_date,
        case when grouping(tenant_id) = 1 then '__all__' else tenant_id end as tenant_id,
        count(*) as failed_payments

    from failed_attempt_tenants
    group by grouping sets ((metric_date, tenant_id), (metric_date))

),

-- one row per tenant-day plus the all-tenants row ----------------------------------------------------------

spine as (

    select distinct
        metric_date,
        tenant_id

    from tenant_days

    union all

    select
        metric_date,
        '__all__' as tenant_id

    from days

),

joined as (

    select
        spine.metric_date,
        spine.tenant_id,
        coalesce(customers.tenants_total, 0) as tenants_total,
        coalesce(customers.tenants_new, 0) as tenants_new,
        coalesce(customers.tenants_churned, 0) as tenants_churned,
        coalesce(reactivations.tenants_reactivated, 0) as tenants_reactivated,
        coalesce(customers.tenants_at_start, 0) as tenants_at_start,
        coalesce(engagement.tenants_active, 0) as tenants_active,
        coalesce(engagement.events_total, 0) as events_total,
        coalesce(engagement.dau, 0) as dau,
        coalesce(engagement.wau, 0) as wau,
        coalesce(engagement.mau, 0) as mau,
        coalesce(engagement.active_users_month_to_date, 0) as active_users_month_to_date,
        coalesce(engagement.mau_active_1_day, 0) as mau_active_1_day,
        coalesce(engagement.mau_active_2_7_days, 0) as mau_active_2_7_days,
        coalesce(engagement.mau_active_8_14_days, 0) as mau_active_8_14_days,
        coalesce(engagement.mau_active_15_plus_days, 0) as mau_active_15_plus_days,
        engagement.avg_active_days_30d,
        coalesce(activation.signups, 0) as signups,
        coalesce(activation.activated_users, 0) as activated_users,
        coalesce(activation.file_upload_users, 0) as file_upload_users,
        coalesce(activation.worklog_users, 0) as worklog_users,
        coalesce(activation.report_users, 0) as report_users,
        spine.metric_date + {{ activation_window_days - 1 }} <= (select observed_through from bounds)
            as activation_window_complete,
        coalesce(jobs_created.jobs_created, 0) as jobs_created,
        coalesce(jobs_outcomes.jobs_total, 0) as jobs_total,
        coalesce(jobs_outcomes.jobs_succeeded, 0) as jobs_succeeded,
        coalesce(jobs_outcomes.jobs_failed, 0) as jobs_failed,
        coalesce(jobs_outcomes.jobs_cancelled, 0) as jobs_cancelled,
        jobs_outcomes.jobs_avg_duration_s,
        jobs_outcomes.jobs_p95_duration_s,
        coalesce(api.api_requests, 0) as api_requests,
        coalesce(api.api_4xx, 0) as api_4xx,
        coalesce(api.api_5xx, 0) as api_5xx,
        api.api_p50_latency_ms,
        api.api_p95_latency_ms,
        api.api_p99_latency_ms,
        coalesce(ledger_daily.mrr, 0) as mrr,
        coalesce(ledger_daily.paying_customers, 0) as paying_customers,
        retention_daily.starting_mrr,
        retention_daily.net_retained_mrr,
        retention_daily.gross_retained_mrr,
        coalesce(subscription_status.past_due, 0) as past_due_subscriptions,
        coalesce(failed_payments.failed_payments, 0) as failed_payments

    from spine
    left join customers
        on spine.metric_date = customers.metric_date and spine.tenant_id = customers.tenant_id
    left join reactivations
        on spine.metric_date = reactivations.metric_date and spine.tenant_id = reactivations.tenant_id
    left join engagement
        on spine.metric_date = engagement.metric_date and spine.tenant_id = engagement.tenant_id
    left join activation
        on spine.metric_date = activation.metric_date and spine.tenant_id = activation.tenant_id
    left join jobs_created
        on spine.metric_date = jobs_created.metric_date and spine.tenant_id = jobs_created.tenant_id
    left join jobs_outcomes
        on spine.metric_date = jobs_outcomes.metric_date and spine.tenant_id = jobs_outcomes.tenant_id
    left join api
        on spine.metric_date = api.metric_date and spine.tenant_id = api.tenant_id
    left join ledger_daily
        on spine.metric_date = ledger_daily.metric_date and spine.tenant_id = ledger_daily.tenant_id
    left join retention_daily
        on spine.metric_date = retention_daily.metric_date and spine.tenant_id = retention_daily.tenant_id
    left join subscription_status
        on spine.metric_date = subscription_status.metric_date and spine.tenant_id = subscription_status.tenant_id
    left join failed_payments
        on spine.metric_date = failed_payments.metric_date and spine.tenant_id = failed_payments.tenant_id

),

final as (

    select
        metric_date::date as metric_date,
        tenant_id::text as tenant_id,
        (tenant_id = '__all__')::boolean as is_all_tenants,
        {{ reporting_timezone_literal() }}::text as reporting_timezone,
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
        round(avg_active_days_30d::numeric, 2) as avg_active_days_30d,
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
        round(jobs_avg_duration_s::numeric, 3) as jobs_avg_duration_s,
        round(jobs_p95_duration_s::numeric, 3) as jobs_p95_duration_s,
        -- api
        api_requests::integer as api_requests,
        api_4xx::integer as api_4xx,
        api_5xx::integer as api_5xx,
        {{ product_ratio('api_4xx', 'api_requests') }} as api_4xx_rate,
        {{ product_ratio('api_5xx', 'api_requests') }} as api_5xx_rate,
        round(api_p50_latency_ms::numeric, 3) as api_p50_latency_ms,
        round(api_p95_latency_ms::numeric, 3) as api_p95_latency_ms,
        round(api_p99_latency_ms::numeric, 3) as api_p99_latency_ms,
        -- revenue (reporting currency, major units)
        '{{ var("reporting_currency") }}'::text as reporting_currency,
        mrr::numeric(20, 4) as mrr,
        (mrr * 12)::numeric(20, 4) as arr,
        paying_customers::integer as paying_customers,
        (net_retained_mrr / nullif(starting_mrr, 0))::numeric(12, 6) as nrr,
        (gross_retained_mrr / nullif(starting_mrr, 0))::numeric(12, 6) as grr,
        past_due_subscriptions::integer as past_due_subscriptions,
        failed_payments::integer as failed_payments

    from joined

)

select * from final
