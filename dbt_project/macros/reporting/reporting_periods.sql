{#- The reporting layer's period arithmetic (docs/METRICS.md, Reporting): grains, period starts and the periods a
    period is compared with. Postgres date arithmetic; another adapter adds its own <adapter>__ versions. -#}

{% macro reporting_grains() -%}
    {{ return(['day', 'week', 'month']) }}
{%- endmacro %}

{#- the first day of the `grain` period containing `day_expr` (weeks start on Monday, ISO) -#}
{% macro reporting_period_start(grain_expr, day_expr) -%}
    {{ return(adapter.dispatch('reporting_period_start', 'execmetrics')(grain_expr, day_expr)) }}
{%- endmacro %}

{% macro default__reporting_period_start(grain_expr, day_expr) -%}
    (case {{ grain_expr }}
        when 'day' then ({{ day_expr }})::date
        when 'week' then date_trunc('week', {{ day_expr }})::date
        else date_trunc('month', {{ day_expr }})::date
    end)
{%- endmacro %}

{#- the last day of the period starting on `start_expr` -#}
{% macro reporting_period_end(grain_expr, start_expr) -%}
    {{ return(adapter.dispatch('reporting_period_end', 'execmetrics')(grain_expr, start_expr)) }}
{%- endmacro %}

{% macro default__reporting_period_end(grain_expr, start_expr) -%}
    (case {{ grain_expr }}
        when 'day' then ({{ start_expr }})::date
        when 'week' then (({{ start_expr }}) + 6)::date
        else (({{ start_expr }}) + interval '1 month - 1 day')::date
    end)
{%- endmacro %}

{#- the start of the period a period is compared with: `previous` (the period before) or `last_year` (the same
    period a year earlier: 52 weeks back for days and weeks, so a Monday is compared with a Monday; 12 months back
    for months) -#}
{% macro reporting_comparison_start(grain_expr, start_expr, comparison) -%}
    {{ return(adapter.dispatch('reporting_comparison_start', 'execmetrics')(grain_expr, start_expr, comparison)) }}
{%- endmacro %}

{% macro default__reporting_comparison_start(grain_expr, start_expr, comparison) -%}
    {%- if comparison == 'previous' -%}
    (case {{ grain_expr }}
        when 'day' then ({{ start_expr }}) - 1
        when 'week' then ({{ start_expr }}) - 7
        else (({{ start_expr }}) - interval '1 month')::date
    end)
    {%- elif comparison == 'last_year' -%}
    (case {{ grain_expr }}
        when 'month' then (({{ start_expr }}) - interval '12 months')::date
        else ({{ start_expr }}) - 364
    end)
    {%- else -%}
    {{ exceptions.raise_compiler_error("comparison must be 'previous' or 'last_year', got " ~ comparison) }}
    {%- endif -%}
{%- endmacro %}
