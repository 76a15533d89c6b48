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
    a filter: `date_column` lies in the days this run builds (daily_metrics_window_start .. product_last_date; from
    daily_metrics_late_rows_start(late_rows_of) when a model's rows change only with late rows of that raw table)
-#}
{% macro daily_metrics_in_window(date_column, late_rows_of=none) -%}
    {%- set lower_bound = daily_metrics_late_rows_start(late_rows_of) if late_rows_of else daily_metrics_window_start() -%}
    {{ date_column }} <= {{ product_last_date() }}
    {%- if lower_bound is not none %} and {{ date_column }} >= {{ lower_bound }}{% endif %}
{%- endmacro %}

{#-
    The import CTEs of an int_daily_* model, each followed by a comma: `spine` (int_daily_spine in the run's window;
    from daily_metrics_late_rows_start with late_rows_of), the counted `tenants` and `users` when asked, `days` (the
    window's days: the spine's '__all__' rows) and `bounds` (the window's first_day and last_day) when asked.
-#}
{% macro daily_metrics_imports(tenants=false, users=false, days=false, bounds=false, late_rows_of=none) -%}
spine as (

    select * from {{ ref('int_daily_spine') }}
    where {{ daily_metrics_in_window('metric_date', late_rows_of) }}

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
{%- if bounds %}

bounds as (

    select
        min(metric_date) as first_day,
        max(metric_date) as last_day

    from spine

),
{%- endif %}
{%- endmacro %}
