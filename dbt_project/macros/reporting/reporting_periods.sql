{#- The reporting layer's period arithmetic (docs/METRICS.md, Reporting): grains, period starts and the periods a
    period is compared with. What differs between engines is in macros/engine.sql (month_last_day, add_months). -#}

{% macro reporting_grains() -%}
    {{ return(['day', 'week', 'month']) }}
{%- endmacro %}

{#- the first day of the `grain` period containing `day_expr` (weeks start on Monday, ISO) -#}
{% macro reporting_period_start(grain_expr, day_expr) -%}
    (case {{ grain_expr }}
        when 'day' then ({{ day_expr }})::date
        when 'week' then date_trunc('week', {{ day_expr }})::date
        else date_trunc('month', {{ day_expr }})::date
    end)
{%- endmacro %}

{#- the last day of the period starting on `start_expr` -#}
{% macro reporting_period_end(grain_expr, start_expr) -%}
    (case {{ grain_expr }}
        when 'day' then ({{ start_expr }})::date
        when 'week' then (({{ start_expr }}) + 6)::date
        else {{ month_last_day('(' ~ start_expr ~ ')') }}
    end)
{%- endmacro %}

{#- the start of the period a period is compared with: `previous` (the period before) or `last_year` (the same
    period a year earlier: 52 weeks back for days and weeks, so a Monday is compared with a Monday; 12 months back
    for months) -#}
{% macro reporting_comparison_start(grain_expr, start_expr, comparison) -%}
    {%- if comparison == 'previous' -%}
    (case {{ grain_expr }}
        when 'day' then ({{ start_expr }}) - 1
        when 'week' then ({{ start_expr }}) - 7
        else {{ add_months('(' ~ start_expr ~ ')', '-1') }}
    end)
    {%- elif comparison == 'last_year' -%}
    (case {{ grain_expr }}
        when 'month' then {{ add_months('(' ~ start_expr ~ ')', '-12') }}
        else ({{ start_expr }}) - 364
    end)
    {%- else -%}
    {{ exceptions.raise_compiler_error("comparison must be 'previous' or 'last_year', got " ~ comparison) }}
    {%- endif -%}
{%- endmacro %}
