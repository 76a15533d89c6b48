{#- Helpers of the product models; the reporting day and the run's window are in reporting_day.sql and incremental_window.sql. -#}

{#- the last local day with an event (index-backed on raw.app_events.occurred_at), or max_date when set -#}
{% macro product_last_date() -%}
    {%- set max_date = window_max_date() -%}
    {%- if max_date is not none -%}
        {{ max_date }}
    {%- else -%}
        (select {{ reporting_date('max(occurred_at)') }} from {{ source('app', 'app_events') }})
    {%- endif -%}
{%- endmacro %}

{#- a ratio that is null (not 0, not an error) when the denominator is 0 -#}
{% macro product_ratio(numerator, denominator, scale=4) -%}
    round(({{ numerator }})::{{ numeric_type() }} / nullif(({{ denominator }})::{{ numeric_type() }}, 0), {{ scale }})::{{ numeric_type() }}
{%- endmacro %}

{#-
    The first day fct_daily_metrics, the int_daily_* models it joins (but _api, _jobs and _engagement:
    daily_metrics_late_rows_start) and fct_metric_alerts rebuild (none: from the first day).
    margin = max(lookback_days, activation_window_days - 1): late events, and signup cohorts whose activation window
    is still open.
-#}
{% macro daily_metrics_window_start() -%}
    {%- set margin = [var('lookback_days') | int, (var('activation_window_days') | int) - 1] | max -%}
    {{ return(incremental_window_start('metric_date', margin)) }}
{%- endmacro %}

{#-
    The first day int_daily_api, _jobs and _engagement rebuild: their own days, and before those the days that loads
    of their raw table touched since they last saw them, at most lookback_days before (late_rows_start,
    macros/late_rows.sql). A row of theirs changes only with late rows (requests, jobs, activity), so the older days
    of daily_metrics_window_start's margin, which activation needs, keep their rows from earlier runs, and
    fct_daily_metrics reads those. When a spine row of those older days has no row in the model (days skipped between
    runs, a first build of fewer days), the run rebuilds the whole shared window instead, so fct_daily_metrics always
    finds a row for each spine row.
-#}
{% macro daily_metrics_late_rows_start(raw_table) -%}
    {%- set own = late_rows_start('metric_date', raw_table, product_last_date()) -%}
    {%- set shared = daily_metrics_window_start() -%}
    {%- if shared is none or not is_incremental() -%}{{ return(shared) }}{%- endif -%}
    {%- if execute -%}
        {%- set missing = run_query(
            "select count(*) from " ~ ref('int_daily_spine') ~ " as spine"
            ~ " where spine.metric_date >= " ~ shared ~ " and spine.metric_date < " ~ own
            ~ " and not exists (select 1 from " ~ this ~ " as built"
            ~ " where built.metric_date = spine.metric_date and built.tenant_id = spine.tenant_id)"
        ).columns[0].values()[0] -%}
        {%- if missing | int > 0 -%}{{ return(shared) }}{%- endif -%}
    {%- endif -%}
    {{ return(own) }}
{%- endmacro %}

{#-
    The days a daily-metrics model builds, worked out once at the top of the model (late_rows_start records a build
    each time it is called): `first_day`, a SQL date expression (daily_metrics_window_start; from
    daily_metrics_late_rows_start(late_rows_of) when a model's rows change only with late rows of that raw table),
    or none on a full build without a window; `last_day` (product_last_date).
-#}
{% macro daily_metrics_window(late_rows_of=none) -%}
    {%- set first_day = daily_metrics_late_rows_start(late_rows_of) if late_rows_of else daily_metrics_window_start() -%}
    {{ return({'first_day': first_day, 'last_day': product_last_date()}) }}
{%- endmacro %}

{#- the moment the window's first day begins, a constant; none when the window has no first day (a full build) -#}
{% macro daily_metrics_start(window) -%}
    {{- return(reporting_day_start(window.first_day) if window.first_day is not none else none) -}}
{%- endmacro %}

{#-
    Filters on a raw table's timestamp `column` for the days of `window` (daily_metrics_window()): from the start of
    its first day (daily_metrics_from; `true` with no first day), and before the end of its last
    (daily_metrics_during, both bounds). Written with the days themselves, not through a CTE of the window's bounds:
    Postgres then plans with constants and estimates the window's rows from the column's statistics. Through a
    subquery it took a range of two unknown values for 0.5 % of the table, whatever the window: at scale 1 with one
    day of history, 56k API requests for the day's 11.25M, so it hashed the requests, not the excluded users, and
    the parallel hash failed ("invalid DSA memory alloc request size", docs/PERFORMANCE.md "Scale 1"). A build with
    no first day has no lower bound: rows before the spine's first day have no spine row to join.
-#}
{% macro daily_metrics_from(column, window) -%}
    {%- set start = daily_metrics_start(window) -%}
    {%- if start is not none -%}
        {{ column }} >= {{ start }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{% macro daily_metrics_during(column, window) -%}
    {{ daily_metrics_from(column, window) }} and {{ column }} < {{ reporting_day_start('(' ~ window.last_day ~ ') + 1') }}
{%- endmacro %}

{#- a filter: `date_column` lies in the days of `window` (daily_metrics_window(); the shared window when none) -#}
{% macro daily_metrics_in_window(date_column, window=none) -%}
    {%- set window = window if window is not none else daily_metrics_window() -%}
    {{ date_column }} <= {{ window.last_day }}
    {%- if window.first_day is not none %} and {{ date_column }} >= {{ window.first_day }}{% endif %}
{%- endmacro %}

{#-
    The import CTEs of an int_daily_* model, each followed by a comma: `spine` (int_daily_spine in the days of
    `window`, daily_metrics_window(); the shared window when none), the counted `tenants` and `users` when asked,
    and `days` (the window's days: the spine's '__all__' rows) when asked.
-#}
{% macro daily_metrics_imports(tenants=false, users=false, days=false, window=none) -%}
spine as (

    select * from {{ ref('int_daily_spine') }}
    where {{ daily_metrics_in_window('metric_date', window) }}

),
{%- if tenants %}

tenants as (

    select * from {{ ref('int_tenants_classified') }}
    where is_counted

),
{%- endif %}
{%- if users %}

users as (

    select * from {{ ref('int_users_classified') }}
    where is_counted

),
{%- endif %}
{%- if days %}

days as (

    select metric_date from spine
    where tenant_id = '__all__'

),
{%- endif %}
{%- endmacro %}
