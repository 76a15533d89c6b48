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

{#- the value of the alertable fct_daily_metrics column named by `name_expr` (a metric name), on row `row_alias` -#}
{% macro product_metric_value(name_expr, row_alias) -%}
    case {{ name_expr }}
    {%- for metric in product_alert_metrics() %}
        when '{{ metric }}' then {{ row_alias }}.{{ metric }}::numeric
    {%- endfor %}
    end
{%- endmacro %}

{#- whether `value` passes a threshold rule: `comparator` is one of < <= > >= = <> -#}
{% macro product_threshold_fires(value, comparator, threshold) -%}
    case {{ comparator }}
        when '<' then {{ value }} < {{ threshold }}
        when '<=' then {{ value }} <= {{ threshold }}
        when '>' then {{ value }} > {{ threshold }}
        when '>=' then {{ value }} >= {{ threshold }}
        when '=' then {{ value }} = {{ threshold }}
        when '<>' then {{ value }} <> {{ threshold }}
        else false
    end
{%- endmacro %}

{#- how an alert message names a row's tenant -#}
{% macro product_tenant_label(tenant_column) -%}
    case when {{ tenant_column }} = '__all__' then 'all tenants' else 'tenant ' || {{ tenant_column }} end
{%- endmacro %}
