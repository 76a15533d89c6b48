{#-
    The period KPIs of rpt_kpi_periods, named once: (name, SQL over the period-to-date running values of the
    model's `running` CTE, type). Stocks are the value on the period's as-of day; flows are sums from the period's
    first day to its as-of day; rates are ratios of those sums. Definitions: docs/METRICS.md (Reporting).
-#}
{% macro reporting_period_kpis() -%}
    {#- a ratio's numerator cast to the engine's numeric type (macros/engine.sql) -#}
    {{ return([
        ('mrr', 'mrr', 'numeric(20, 4)'),
        ('arr', 'mrr * 12', 'numeric(20, 4)'),
        ('paying_customers', 'paying_customers', 'integer'),
        ('arpa', 'mrr / nullif(paying_customers, 0)', 'numeric(20, 4)'),
        ('nrr_mtd', 'nrr', 'numeric(12, 6)'),
        ('grr_mtd', 'grr', 'numeric(12, 6)'),
        ('past_due_subscriptions', 'past_due_subscriptions', 'integer'),
        ('failed_payments', 'sum_failed_payments', 'integer'),
        ('tenant_accounts_open', 'tenants_total', 'integer'),
        ('tenant_accounts_new', 'sum_tenants_new', 'integer'),
        ('tenant_accounts_closed', 'sum_tenants_closed', 'integer'),
        ('dau', 'sum_dau::' ~ numeric_type() ~ ' / nullif(days_to_date, 0)', 'numeric(14, 2)'),
        ('wau', 'wau', 'integer'),
        ('mau', 'mau', 'integer'),
        ('dau_mau_ratio', 'sum_dau::' ~ numeric_type() ~ ' / nullif(days_to_date, 0) / nullif(mau, 0)', 'numeric(12, 6)'),
        ('events', 'sum_events', 'bigint'),
        ('signups', 'sum_signups', 'integer'),
        ('activated_users', 'sum_activated_users', 'integer'),
        ('activation_rate', 'sum_activated_complete::' ~ numeric_type() ~ ' / nullif(sum_signups_complete, 0)', 'numeric(12, 6)'),
        ('jobs_run', 'sum_jobs_succeeded + sum_jobs_failed', 'integer'),
        ('jobs_succeeded', 'sum_jobs_succeeded', 'integer'),
        ('jobs_failed', 'sum_jobs_failed', 'integer'),
        ('jobs_cancelled', 'sum_jobs_cancelled', 'integer'),
        ('job_success_rate', 'sum_jobs_succeeded::' ~ numeric_type() ~ ' / nullif(sum_jobs_succeeded + sum_jobs_failed, 0)', 'numeric(12, 6)'),
        ('job_avg_duration_s', 'sum_job_duration_s / nullif(sum_jobs_timed, 0)', 'numeric(14, 3)'),
        ('job_p95_duration_s', 'sum_job_p95_s / nullif(sum_jobs_timed, 0)', 'numeric(14, 3)'),
        ('api_requests', 'sum_api_requests', 'bigint'),
        ('api_4xx', 'sum_api_4xx', 'bigint'),
        ('api_5xx', 'sum_api_5xx', 'bigint'),
        ('api_4xx_rate', 'sum_api_4xx::' ~ numeric_type() ~ ' / nullif(sum_api_requests, 0)', 'numeric(12, 6)'),
        ('api_5xx_rate', 'sum_api_5xx::' ~ numeric_type() ~ ' / nullif(sum_api_requests, 0)', 'numeric(12, 6)'),
        ('api_p50_latency_ms', 'sum_api_p50_ms / nullif(sum_api_timed, 0)', 'numeric(14, 3)'),
        ('api_p95_latency_ms', 'sum_api_p95_ms / nullif(sum_api_timed, 0)', 'numeric(14, 3)'),
        ('api_p99_latency_ms', 'sum_api_p99_ms / nullif(sum_api_timed, 0)', 'numeric(14, 3)'),
    ]) }}
{%- endmacro %}
