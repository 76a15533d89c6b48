{#-
    Time helpers for the product models. A "day" is a calendar day in var('reporting_timezone')
    (env REPORTING_TIMEZONE, default UTC), so DST days are 23 or 25 hours long.
-#}

{% macro product_tz() -%}
    '{{ var("reporting_timezone", "UTC") | replace("'", "") }}'
{%- endmacro %}

{#- the local calendar day of a timestamptz expression -#}
{% macro product_local_date(column) -%}
    (({{ column }}) at time zone {{ product_tz() }})::date
{%- endmacro %}

{#- the timestamptz at which a local calendar day (a date expression) starts -#}
{% macro product_day_start(date_expr) -%}
    ((({{ date_expr }})::date)::timestamp at time zone {{ product_tz() }})
{%- endmacro %}

{% macro product_int_var(name, default) -%}
    {{ var(name, default) | int }}
{%- endmacro %}

{#- var('min_date') / var('max_date') as SQL date literals, or none when unset -#}
{% macro product_min_date() -%}
    {%- set value = var('min_date', none) -%}
    {%- if value is none or value | string | trim in ('', 'None', 'null') -%}{{ return(none) }}{%- endif -%}
    {{ return("date '" ~ (value | string | trim) ~ "'") }}
{%- endmacro %}

{% macro product_max_date() -%}
    {%- set value = var('max_date', none) -%}
    {%- if value is none or value | string | trim in ('', 'None', 'null') -%}{{ return(none) }}{%- endif -%}
    {{ return("date '" ~ (value | string | trim) ~ "'") }}
{%- endmacro %}

{#-
    The first local day an incremental model rebuilds, as a SQL date expression, or none for a full build.
    A full build (first run or --full-refresh) ignores min_date and rebuilds everything up to max_date, so the
    first materialisation of any partition gives complete history. An incremental run rebuilds from
    min_date (or, with no window, from the last day already built) minus `extra_days`.
-#}
{% macro product_rebuild_from(date_column, extra_days=0) -%}
    {%- if not is_incremental() -%}{{ return(none) }}{%- endif -%}
    {%- set min_date = product_min_date() -%}
    {%- if min_date is not none -%}
        {{ return("(" ~ min_date ~ " - " ~ (extra_days | int) ~ ")") }}
    {%- else -%}
        {{ return("(coalesce((select max(" ~ date_column ~ ") from " ~ this ~ "), date '1900-01-01') - " ~ (extra_days | int) ~ ")") }}
    {%- endif -%}
{%- endmacro %}

{#- the last local day with an event (index-backed on raw.app_events.occurred_at), or max_date when set -#}
{% macro product_last_date() -%}
    {%- set max_date = product_max_date() -%}
    {%- if max_date is not none -%}
        {{ max_date }}
    {%- else -%}
        (select {{ product_local_date('max(occurred_at)') }} from {{ source('app', 'app_events') }})
    {%- endif -%}
{%- endmacro %}

{#- a ratio that is null (not 0, not an error) when the denominator is 0 -#}
{% macro product_ratio(numerator, denominator, scale=4) -%}
    round(({{ numerator }})::numeric / nullif(({{ denominator }})::numeric, 0), {{ scale }})
{%- endmacro %}
