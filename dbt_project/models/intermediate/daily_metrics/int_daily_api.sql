{#-
    API traffic on each row of int_daily_spine: requests of counted tenants on that local day (a request by an
    excluded user - staff, deleted - does not count; one without a user does), 4xx and 5xx responses, and the
    median, 95th and 99th percentile latency.
-#}

{{ config(post_hook="{{ late_rows_built() }}") }}
{%- set window = daily_metrics_window(late_rows_of='api_requests') %}

with

{{ daily_metrics_imports(tenants=true, window=window) }}

excluded_users as (

    select user_id from {{ ref('int_users_classified') }}
    where not is_counted

),

requests as (

    select
        {{ reporting_date('occurred_at') }} as metric_date,
        tenant_id,
        status_code,
        duration_ms

    from {{ ref('stg_app__api_requests') }} as api_requests
    where
        {{ daily_metrics_during('occurred_at', window) }}
        and tenant_id in (select tenant_id from tenants)
        -- not exists, not `not in`: Postgres hashes `not in` only while the list fits work_mem by its estimate, and
        -- else scans the list again for every request (a just-rebuilt int_users_classified has no statistics yet)
        and not exists (
            select 1 from excluded_users
            where excluded_users.user_id = api_requests.user_id
        )

),

api as (

    select
        metric_date,
        {{ tenant_or_all() }} as tenant_id,
        count(*) as api_requests,
        count(*) filter (where status_code between 400 and 499) as api_4xx,
        count(*) filter (where status_code between 500 and 599) as api_5xx,
        percentile_cont(0.50) within group (order by duration_ms) as api_p50_latency_ms,
        percentile_cont(0.95) within group (order by duration_ms) as api_p95_latency_ms,
        percentile_cont(0.99) within group (order by duration_ms) as api_p99_latency_ms

    from requests
    {{ group_by_tenant_and_all(['metric_date']) }}

),

final as (

    select
        spine.metric_date,
        spine.tenant_id,
        coalesce(api.api_requests, 0) as api_requests,
        coalesce(api.api_4xx, 0) as api_4xx,
        coalesce(api.api_5xx, 0) as api_5xx,
        round(api.api_p50_latency_ms::{{ numeric_type() }}, 3)::numeric(20, 3) as api_p50_latency_ms,
        round(api.api_p95_latency_ms::{{ numeric_type() }}, 3)::numeric(20, 3) as api_p95_latency_ms,
        round(api.api_p99_latency_ms::{{ numeric_type() }}, 3)::numeric(20, 3) as api_p99_latency_ms

    from spine
    left join api
        on spine.metric_date = api.metric_date and spine.tenant_id = api.tenant_id

)

select * from final
