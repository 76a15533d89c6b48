{#-
    Alert flags: one row per (metric_date, tenant_id, metric, rule) that fires, rule in ('threshold', 'anomaly'):
    the seed alert_thresholds' rules (the most severe firing rule per row and metric wins), and the weekday-seasonal
    robust z-score of docs/METRICS.md ("Alerts"), with window functions only (no self-joins). Incremental by
    metric_date with fct_daily_metrics' window, reading 2 x anomaly_history_days before it.
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='metric_date',
        on_schema_change='append_new_columns',
    )
}}

{%- set history_days = var('anomaly_history_days') | int %}
{%- set z_threshold = var('anomaly_z_threshold') %}
{%- set lower_bound = daily_metrics_window_start() or "date '0001-01-01'" %}

with

daily as (

    select * from {{ ref('fct_daily_metrics') }}
    where metric_date >= {{ lower_bound }} - {{ 2 * history_days }}
    {%- if window_max_date() is not none %} and metric_date <= {{ window_max_date() }}{% endif %}

),

rules as (

    select * from {{ ref('alert_thresholds') }}

),

-- threshold rules -------------------------------------------------------------------------------------------

threshold_hits as (

    select
        daily.metric_date,
        daily.tenant_id,
        rules.metric,
        {{ product_metric_value('rules.metric', 'daily') }} as value,
        {{ product_metric_value('rules.volume_metric', 'daily') }} as volume,
        rules.rule_id,
        rules.comparator,
        rules.threshold,
        rules.severity,
        rules.min_volume,
        rules.description

    from daily
    inner join rules
        on rules.tenant_scope = 'all' or rules.tenant_scope = daily.tenant_id
    where daily.metric_date >= {{ lower_bound }}

),

threshold_ranked as (

    -- the rules that fire, most severe first
    select
        threshold_hits.*,
        row_number() over (
            partition by metric_date, tenant_id, metric
            order by {{ product_severity_rank('severity') }} desc, rule_id
        ) as severity_order

    from threshold_hits
    where
        value is not null
        and (min_volume is null or coalesce(volume, 0) >= min_volume)
        and {{ product_threshold_fires('value', 'comparator', 'threshold') }}

),

threshold_alerts as (

    select
        metric_date,
        tenant_id,
        metric,
        'threshold' as rule,
        rule_id,
        severity,
        value,
        threshold as expected_value,
        null::numeric as z_score,
        format(
            '%s: %s is %s on %s for %s (rule %s: %s %s)',
            coalesce(description, metric), metric, value, metric_date, {{ product_tenant_label('tenant_id') }},
            rule_id, comparator, threshold
        ) as message

    from threshold_ranked
    where severity_order = 1

),

-- anomaly detection -----------------------------------------------------------------------------------------

series as (

    select
        daily.metric_date,
        daily.tenant_id,
        metric_value.metric,
        metric_value.value

    from daily
    cross join lateral (
        values
        {%- for metric in var('anomaly_metrics') %}
            ('{{ metric }}', daily.{{ metric }}::numeric){% if not loop.last %},{% endif %}
        {%- endfor %}
    ) as metric_value (metric, value)

),

same_weekday as (

    -- the same weekday 1..4 weeks back (null where that day has no row)
    select
        series.*,
        array_remove(array[
            {%- for weeks in range(1, (history_days // 7) + 1) %}
            max(value) over weeks_back_{{ weeks }}{% if not loop.last %},{% endif %}
            {%- endfor %}
        ], null) as weekday_history

    from series
    window
    {%- for weeks in range(1, (history_days // 7) + 1) %}
        weeks_back_{{ weeks }} as (
            partition by tenant_id, metric
            order by metric_date
            range between interval '{{ 7 * weeks }} days' preceding and interval '{{ 7 * weeks }} days' preceding
        ){% if not loop.last %},{% endif %}
    {%- endfor %}

),

expected as (

    select
        same_weekday.*,
        {{ array_median('same_weekday.weekday_history') }} as expected_value,
        cardinality(same_weekday.weekday_history) as weekday_points

    from same_weekday

),

history_scale as (

    -- the absolute residuals of the trailing days (a day with fewer than 2 same-weekday points has none)
    select
        expected.*,
        array_remove(
            array_agg(case when weekday_points >= 2 then abs(value - expected_value::numeric) end) over trailing_days,
            null
        ) as residual_history

    from expected
    window trailing_days as (
        partition by tenant_id, metric
        order by metric_date
        range between interval '{{ history_days }} days' preceding and interval '1 day' preceding
    )

),

scored as (

    select
        metric_date,
        tenant_id,
        metric,
        value,
        expected_value,
        cardinality(residual_history) as history_points,
        (value - expected_value::numeric) / greatest(
            1.4826 * {{ array_median('residual_history') }},
            {{ var('anomaly_min_relative_scale') }} * abs(expected_value),
            1
        )::numeric as z_score

    from history_scale
    where metric_date >= {{ lower_bound }}
        and weekday_points >= 2
        and value is not null

),

anomaly_alerts as (

    select
        metric_date,
        tenant_id,
        metric,
        'anomaly' as rule,
        'robust_z' as rule_id,
        case when abs(z_score) >= 2 * {{ z_threshold }} then 'critical' else 'warning' end as severity,
        value,
        round(expected_value::numeric, 4) as expected_value,
        round(z_score, 2) as z_score,
        format(
            'Anomaly: %s is %s on %s for %s, %s than the usual %s for that weekday (robust z = %s)',
            metric, value, metric_date, {{ product_tenant_label('tenant_id') }},
            case when z_score > 0 then 'higher' else 'lower' end,
            round(expected_value::numeric, 2), round(z_score, 1)
        ) as message

    from scored
    where history_points >= {{ var('anomaly_min_history_days') | int }}
        and expected_value >= {{ var('anomaly_min_volume') }}
        and abs(z_score) >= {{ z_threshold }}

),

unioned as (

    select * from threshold_alerts
    union all
    select * from anomaly_alerts

),

final as (

    select
        metric_date::date as metric_date,
        tenant_id::text as tenant_id,
        metric::text as metric,
        rule::text as rule,
        rule_id::text as rule_id,
        severity::text as severity,
        value::numeric as metric_value,
        expected_value::numeric as expected_value,
        z_score::numeric as z_score,
        message::text as message

    from unioned

)

select * from final
