{#-
    The reporting day: a "day" is a calendar day in var('reporting_timezone') (env REPORTING_TIMEZONE, default UTC),
    so DST days are 23 or 25 hours long. Every model turns a timestamp into a day, or a day into its first instant,
    with these macros only. The SQL is Postgres's; another adapter adds <adapter>__reporting_date and
    <adapter>__reporting_day_start.
-#}

{#- the reporting timezone as a SQL string literal -#}
{% macro reporting_timezone_literal() -%}
    '{{ var("reporting_timezone") | replace("'", "") }}'
{%- endmacro %}

{#- the local calendar day of a timestamptz expression -#}
{% macro reporting_date(ts_expr) -%}
    {{ return(adapter.dispatch('reporting_date', 'execmetrics')(ts_expr)) }}
{%- endmacro %}

{% macro default__reporting_date(ts_expr) -%}
    (({{ ts_expr }}) at time zone {{ reporting_timezone_literal() }})::date
{%- endmacro %}

{#- the timestamptz at which a local calendar day (a date expression) starts -#}
{% macro reporting_day_start(date_expr) -%}
    {{ return(adapter.dispatch('reporting_day_start', 'execmetrics')(date_expr)) }}
{%- endmacro %}

{% macro default__reporting_day_start(date_expr) -%}
    ((({{ date_expr }})::date)::timestamp at time zone {{ reporting_timezone_literal() }})
{%- endmacro %}
