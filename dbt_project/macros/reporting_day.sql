{#-
    The reporting day: a "day" is a calendar day in var('reporting_timezone') (env REPORTING_TIMEZONE, default UTC),
    so DST days are 23 or 25 hours long. Every model turns a timestamp into a day, or a day into its first instant,
    with these macros only: Postgres's SQL (default__) and Spark's (spark__).
-#}

{#- the reporting timezone as a SQL string literal -#}
{% macro reporting_timezone_literal() -%}
    '{{ var("reporting_timezone") | replace("'", "") }}'
{%- endmacro %}

{#- the local calendar day of a timestamptz expression -#}
{% macro reporting_date(ts_expr) -%}
    {{ return(adapter.dispatch('reporting_date')(ts_expr)) }}
{%- endmacro %}

{% macro default__reporting_date(ts_expr) -%}
    (({{ ts_expr }}) at time zone {{ reporting_timezone_literal() }})::date
{%- endmacro %}

{#- the timestamptz at which a local calendar day (a date expression) starts -#}
{% macro reporting_day_start(date_expr) -%}
    {{ return(adapter.dispatch('reporting_day_start')(date_expr)) }}
{%- endmacro %}

{% macro default__reporting_day_start(date_expr) -%}
    ((({{ date_expr }})::date)::timestamp at time zone {{ reporting_timezone_literal() }})
{%- endmacro %}

{#- Spark: TIMESTAMP is an instant; from_utc_timestamp shows it as the reporting timezone's wall clock (the session
    timezone is UTC, profiles.yml), and to_utc_timestamp reads a wall clock there back into an instant. -#}
{% macro spark__reporting_date(ts_expr) -%}
    to_date(from_utc_timestamp({{ ts_expr }}, {{ reporting_timezone_literal() }}))
{%- endmacro %}

{% macro spark__reporting_day_start(date_expr) -%}
    to_utc_timestamp(cast(cast({{ date_expr }} as date) as timestamp), {{ reporting_timezone_literal() }})
{%- endmacro %}
