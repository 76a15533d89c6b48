{#-
    Background jobs on each row of int_daily_spine (jobs of counted tenants): created that local day, and ended that
    day (finished_at, else the last update, for succeeded / failed / cancelled jobs) with their outcome and the
    average and 95th-percentile duration of the succeeded and failed ones.
-#}

{{ config(post_hook="{{ late_rows_built() }}") }}
{%- set window = daily_metrics_window(late_rows_of='jobs') %}

with

{{ daily_metrics_imports(tenants=true, window=window) }}

latest_jobs as (

    -- a job created or ended in the window was last updated in or after it (updated_at is the time of a row's last
    -- change, the extractor's watermark), and so was any version newer than one updated in it: the window's jobs
    -- are the latest of the versions from the window's first day on, an index range on raw's updated_at on both
    -- sides of the anti join, not every version of every job ever loaded
    {{ latest_versions(ref('stg_app__job_versions'), key='job_id', since=daily_metrics_start(window)) }}

),

jobs as (

    select
        job_id,
        tenant_id,
        job_status,
        created_at,
        started_at,
        coalesce(finished_at, updated_at) as ended_at

    from latest_jobs
    where
        tenant_id in (select tenant_id from tenants)
        and (
            (
                {{ daily_metrics_during('created_at', window) }}
            )
            or (
                job_status in ('succeeded', 'failed', 'cancelled')
                and {{ daily_metrics_during('coalesce(finished_at, updated_at)', window) }}
            )
        )

),

jobs_created as (

    select
        {{ reporting_date('created_at') }} as metric_date,
        {{ tenant_or_all() }} as tenant_id,
        count(*) as jobs_created

    from jobs
    where
        {{ daily_metrics_during('created_at', window) }}
    {{ group_by_tenant_and_all([reporting_date('created_at')]) }}

),

jobs_ended as (

    select
        {{ reporting_date('ended_at') }} as metric_date,
        tenant_id,
        job_status,
        case
            when job_status in ('succeeded', 'failed') and started_at is not null and ended_at >= started_at
                then {{ seconds_between('started_at', 'ended_at') }}
        end as duration_s

    from jobs
    where
        job_status in ('succeeded', 'failed', 'cancelled')
        and {{ daily_metrics_during('ended_at', window) }}

),

jobs_outcomes as (

    select
        metric_date,
        {{ tenant_or_all() }} as tenant_id,
        count(*) as jobs_total,
        count(*) filter (where job_status = 'succeeded') as jobs_succeeded,
        count(*) filter (where job_status = 'failed') as jobs_failed,
        count(*) filter (where job_status = 'cancelled') as jobs_cancelled,
        avg(duration_s) as jobs_avg_duration_s,
        percentile_cont(0.95) within group (order by duration_s) as jobs_p95_duration_s

    from jobs_ended
    {{ group_by_tenant_and_all(['metric_date']) }}

),

final as (

    select
        spine.metric_date,
        spine.tenant_id,
        coalesce(jobs_created.jobs_created, 0) as jobs_created,
        coalesce(jobs_outcomes.jobs_total, 0) as jobs_total,
        coalesce(jobs_outcomes.jobs_succeeded, 0) as jobs_succeeded,
        coalesce(jobs_outcomes.jobs_failed, 0) as jobs_failed,
        coalesce(jobs_outcomes.jobs_cancelled, 0) as jobs_cancelled,
        round(jobs_outcomes.jobs_avg_duration_s::{{ numeric_type() }}, 3)::numeric(20, 3) as jobs_avg_duration_s,
        round(jobs_outcomes.jobs_p95_duration_s::{{ numeric_type() }}, 3)::numeric(20, 3) as jobs_p95_duration_s

    from spine
    left join jobs_created
        on spine.metric_date = jobs_created.metric_date and spine.tenant_id = jobs_created.tenant_id
    left join jobs_outcomes
        on spine.metric_date = jobs_outcomes.metric_date and spine.tenant_id = jobs_outcomes.tenant_id

)

select * from final
