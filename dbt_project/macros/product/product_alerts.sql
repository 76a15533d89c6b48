{#-
    Alert rules and the metrics they may name. The one list of metric names is the seed alert_metrics (also read by
    the channels file's validation, dashboards/delivery/config.py): columns of fct_daily_metrics.
-#}

{#- the names in seed alert_metrics (at execution; an empty list while dbt only parses) -#}
{% macro alert_metric_names() -%}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {%- set result = run_query("select metric from " ~ ref('alert_metrics') ~ " order by metric") -%}
    {{ return(result.columns[0].values() | list) }}
{%- endmacro %}

{#-
    Fail the build, naming the rule and the metric, when var anomaly_metrics or (given `rules`, the seed
    alert_thresholds: metric, volume_metric) names a metric that is not in seed alert_metrics: a misspelt rule would
    otherwise never fire. A model calling it declares `-- depends_on:` the seeds it reads.
-#}
{% macro assert_alert_metrics_known(metrics, anomaly_metrics, rules=none) -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set problems = [] -%}
    {%- if rules is not none -%}
        {%- set found = run_query("select rule_id, metric, volume_metric from " ~ rules ~ " order by rule_id") -%}
        {%- for row in found.rows -%}
            {%- if row[1] not in metrics -%}
                {%- do problems.append("rule '" ~ row[0] ~ "' watches unknown metric '" ~ row[1] ~ "'") -%}
            {%- endif -%}
            {%- if row[2] is not none and row[2] not in metrics -%}
                {%- do problems.append("rule '" ~ row[0] ~ "' has unknown volume_metric '" ~ row[2] ~ "'") -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- for metric in anomaly_metrics -%}
        {%- if metric not in metrics -%}
            {%- do problems.append("var anomaly_metrics names unknown metric '" ~ metric ~ "'") -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if problems -%}
        {{ exceptions.raise_compiler_error(
            "alert rules name unknown metrics (seeds/alert_thresholds.csv, var anomaly_metrics): "
            ~ problems | join('; ')
            ~ ". Known metrics (seeds/alert_metrics.csv): " ~ metrics | join(', ')) }}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}

{% macro product_severity_rank(severity) -%}
    case {{ severity }} when 'critical' then 3 when 'warning' then 2 when 'info' then 1 else 0 end
{%- endmacro %}

{#- the value of the fct_daily_metrics column named by `name_expr` (one of `metrics`), on row `row_alias` -#}
{% macro product_metric_value(name_expr, row_alias, metrics) -%}
    case {{ name_expr }}
    {%- for metric in metrics %}
        when '{{ metric }}' then {{ row_alias }}.{{ metric }}::{{ numeric_type() }}
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
