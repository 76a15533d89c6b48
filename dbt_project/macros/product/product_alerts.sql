{#- fct_daily_metrics columns that alerts can watch (threshold rules and anomaly detection) -#}
{% macro product_alert_metrics() -%}
    {{ return([
        'tenants_total', 'tenants_churned', 'tenant_churn_rate', 'tenants_active',
        'events_total', 'dau', 'wau', 'mau', 'dau_mau_ratio',
        'signups', 'activation_rate',
        'jobs_total', 'jobs_failed', 'jobs_success_rate', 'jobs_p95_duration_s',
        'api_requests', 'api_5xx', 'api_4xx_rate', 'api_5xx_rate', 'api_p95_latency_ms',
    ] + product_revenue_alert_metrics()) }}
{%- endmacro %}

{#- revenue columns of fct_daily_metrics that alerts can watch (empty while they are not joined) -#}
{% macro product_revenue_alert_metrics() -%}
    {{ return([]) }}
{%- endmacro %}

{% macro product_severity_rank(severity) -%}
    case {{ severity }} when 'critical' then 3 when 'warning' then 2 when 'info' then 1 else 0 end
{%- endmacro %}
