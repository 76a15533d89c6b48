{#-
    Anomaly scores: one row per (metric_date, tenant_id, metric) of fct_daily_metrics for each metric of var
    anomaly_metrics, fired or not (fct_metric_alerts keeps those that fire; the rest shows how close a day came).
    The weekday-seasonal robust z-score of docs/METRICS.md ("Alerts"): expected = the median of the same weekday
    1..4 weeks back (at least 2 of them); scale = 1.4826 x the median absolute residual of the trailing
    anomaly_history_days, floored at anomaly_min_relative_scale x expected and at 1; z = (value - expected) / scale.
    Window functions only (no self-joins). Incremental by metric_date with fct_daily_metrics' window, reading
    2 x anomaly_history_days before it. A changed anomaly_metrics applies to the days built from then on (a full
    refresh scores history again).
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy=replace_keys_strategy(),
        partition_by=replace_keys_partition_by('metric_date'),
        unique_key='metric_date',
        on_schema_change='append_new_columns',
    )
}}
-- depends_on: {{ ref('alert_metrics') }}

{%- set history_days = var('anomaly_history_days') | int %}
{{- assert_alert_metrics_known(alert_metric_names(), var('anomaly_metrics')) }}
{#- no lower bound on a full build (a year-1 sentinel minus days is before year 1: Spark's metastore rejects it) -#}
{%- set lower_bound = daily_metrics_window_start() %}

with

daily as (

    select * from {{ ref('fct_daily_metrics') }}
    where true
    {%- if lower_bound is not none %} and metric_date >= {{ lower_bound }} - {{ 2 * history_days }}{% endif %}
    {%- if window_max_date() is not none %} and metric_date <= {{ window_max_date() }}{% endif %}

),

series as (

    select
        daily.metric_date,
        daily.tenant_id,
        metric_value.metric,
        metric_value.value

    from daily
    {%- set rows = [] %}
    {%- for metric in var('anomaly_metrics') %}
        {%- do rows.append(["'" ~ metric ~ "'", 'daily.' ~ metric ~ '::' ~ numeric_type()]) %}
    {%- endfor %}
    {{ join_rows(rows, 'metric_value', ['metric', 'value']) }}

),

same_weekday as (

    -- the same weekday 1..4 weeks back (null where that day has no row)
    select
        series.*,
        {%- set weeks_back = [] %}
        {%- for weeks in range(1, (history_days // 7) + 1) %}
            {%- do weeks_back.append('max(value) over weeks_back_' ~ weeks) %}
        {%- endfor %}
        {{ compact_array(weeks_back) }} as weekday_history

    from series
    window
    {%- for weeks in range(1, (history_days // 7) + 1) %}
        weeks_back_{{ weeks }} as (
            partition by tenant_id, metric
            {{ order_by_days_preceding('metric_date', 7 * weeks, 7 * weeks) }}
        ){% if not loop.last %},{% endif %}
    {%- endfor %}

),

expected as {{ materialized_cte() }} (

    -- the days whose residuals the built days' trailing windows read (the earlier ones only gave their values above),
    -- each median computed once: merged into history_scale, it was computed again for every row of every frame
    select
        same_weekday.*,
        {{ array_median('same_weekday.weekday_history') }} as expected_value,
        {{ array_length('same_weekday.weekday_history') }} as weekday_points

    from same_weekday
    {%- if lower_bound is not none %}
    where same_weekday.metric_date >= {{ lower_bound }} - {{ history_days }}
    {%- endif %}

),

history_scale as (

    -- the absolute residuals of the trailing days (a day with fewer than 2 same-weekday points has none)
    select
        expected.*,
        {{ window_values(
            'case when weekday_points >= 2 then abs(value - expected_value::' ~ numeric_type() ~ ') end', 'trailing_days'
        ) }} as residual_history

    from expected
    window trailing_days as (
        partition by tenant_id, metric
        {{ order_by_days_preceding('metric_date', history_days, 1) }}
    )

),

final as (

    select
        metric_date::date as metric_date,
        tenant_id::{{ text_type() }} as tenant_id,
        metric::{{ text_type() }} as metric,
        value::{{ numeric_type() }} as metric_value,
        (case when weekday_points >= 2 then expected_value end)::{{ numeric_type() }} as expected_value,
        weekday_points::integer as weekday_points,
        {{ array_length('residual_history') }}::integer as history_points,
        (case
            when weekday_points >= 2 and value is not null
                then (value - expected_value::{{ numeric_type() }}) / greatest(
                    1.4826 * {{ array_median('residual_history') }},
                    {{ var('anomaly_min_relative_scale') }} * abs(expected_value),
                    1
                )
        end)::{{ numeric_type() }} as z_score

    from history_scale
    {%- if lower_bound is not none %}
    where metric_date >= {{ lower_bound }}
    {%- endif %}

)

select * from final
