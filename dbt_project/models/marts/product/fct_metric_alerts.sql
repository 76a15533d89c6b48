{#-
    Alert flags: one row per (metric_date, tenant_id, metric, rule) that fires, rule in ('threshold', 'anomaly').
    Threshold rules come from the seed alert_thresholds (the most severe firing rule per row and metric wins).
    Anomalies: robust z-score of the day's value against the trailing anomaly_history_days (28) days with
    weekday seasonality: expected = median of the same weekday in the history; scale = 1.4826 x MAD of the
    history's residuals from their own weekday medians, floored at anomaly_min_relative_scale x expected and 1.
    Fires when |z| >= anomaly_z_threshold, the expected value is at least anomaly_min_volume and there are at
    least anomaly_min_history_days days of history: a quiet weekend or a tiny tenant does not page anyone.
    Incremental by metric_date with the same window as fct_daily_metrics.
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='metric_date',
        on_schema_change='append_new_columns',
    )
}}

{%- set lookback_days = var('lookback_days', 3) | int %}
{%- set margin = [lookback_days, (var('activation_window_days', 7) | int) - 1] | max %}
{%- set history_days = var('anomaly_history_days', 28) | int %}
{%- set z_threshold = var('anomaly_z_threshold', 3.5) %}
{%- set min_volume = var('anomaly_min_volume', 20) %}
{%- set min_history = var('anomaly_min_history_days', 21) | int %}
{%- set min_relative_scale = var('anomaly_min_relative_scale', 0.1) %}
{%- set anomaly_metrics = var('anomaly_metrics', ['dau', 'events_total', 'signups', 'jobs_total', 'jobs_failed', 'api_requests', 'api_5xx']) %}
{%- set metrics = product_alert_metrics() %}
{%- set min_date = product_min_date() %}
{%- if min_date is not none %}
    {%- set lower_bound = '(' ~ min_date ~ ' - ' ~ margin ~ ')' %}
{%- elif is_incremental() %}
    {%- set lower_bound = product_rebuild_from('metric_date', margin) %}
{%- else %}
    {%- set lower_bound = "date '0001-01-01'" %}
{%- endif %}
{%- set max_date = product_max_date() %}

with

daily as (

    select * from {{ ref('fct_daily_metrics') }}
    where metric_date >= {{ lower_bound }} - {{ history_days }}
    {%- if max_date is not none %}
        and metric_date <= {{ max_date }}
    {%- endif %}

),

rules as (

    select * from {{ ref('alert_thresholds') }}

),

metric_values as (

    select
        daily.metric_date,
        daily.tenant_id,
        metric_value.metric,
        metric_value.value

    from daily
    cross join lateral (
        values
        {%- for metric in metrics %}
            ('{{ metric }}', daily.{{ metric }}::numeric){% if not loop.last %},{% endif %}
        {%- endfor %}
    ) as metric_value (metric, value)

),

-- threshold rules -------------------------------------------------------------------------------------------

threshold_hits as (

    select
        metric_values.metric_date,
        metric_values.tenant_id,
        metric_values.metric,
        metric_values.value,
        rules.rule_id,
        rules.comparator,
        rules.threshold,
        rules.severity,
        rules.description

    from metric_values
    inner join rules
        on metric_values.metric = rules.metric
        and (rules.tenant_scope = 'all' or rules.tenant_scope = metric_values.tenant_id)
    left join metric_values as volume
        on rules.volume_metric = volume.metric
        and metric_values.tenant_id = volume.tenant_id
        and metric_values.metric_date = volume.metric_date
    where metric_values.metric_date >= {{ lower_bound }}
        and metric_values.value is not null
        and (rules.min_volume is null or coalesce(volume.value, 0) >= rules.min_volume)
        and case rules.comparator
            when '<' then metric_values.value < rules.threshold
            when '<=' then metric_values.value <= rules.threshold
            when '>' then metric_values.value > rules.threshold
            when '>=' then metric_values.value >= rules.threshold
            when '=' then metric_values.value = rules.threshold
            when '<>' then metric_values.value <> rules.threshold
            else false
        end

),

threshold_ranked as (

    select
        threshold_hits.*,
        row_number() over (
            partition by metric_date, tenant_id, metric
            order by {{ product_severity_rank('severity') }} desc, rule_id
        ) as severity_order

    from threshold_hits

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
            coalesce(description, metric), metric, value, metric_date,
            case when tenant_id = '__all__' then 'all tenants' else 'tenant ' || tenant_id end,
            rule_id, comparator, threshold
        ) as message

    from threshold_ranked
    where severity_order = 1

),

-- anomaly detection -----------------------------------------------------------------------------------------

series as (

    select * from metric_values
    where metric in ({% for m in anomaly_metrics %}'{{ m }}'{% if not loop.last %}, {% endif %}{% endfor %})
        and value is not null

),

history_pairs as (

    select
        current_day.metric_date,
        current_day.tenant_id,
        current_day.metric,
        current_day.value,
        history.metric_date as history_date,
        extract(isodow from history.metric_date)::integer as history_weekday,
        history.value as history_value

    from series as current_day
    inner join series as history
        on current_day.tenant_id = history.tenant_id
        and current_day.metric = history.metric
        and history.metric_date between current_day.metric_date - {{ history_days }} and current_day.metric_date - 1
    where current_day.metric_date >= {{ lower_bound }}

),

weekday_medians as (

    select
        metric_date,
        tenant_id,
        metric,
        history_weekday,
        percentile_cont(0.5) within group (order by history_value) as weekday_median

    from history_pairs
    group by metric_date, tenant_id, metric, history_weekday

),

residuals as (

    select
        history_pairs.metric_date,
        history_pairs.tenant_id,
        history_pairs.metric,
        history_pairs.value,
        abs(history_pairs.history_value - weekday_medians.weekday_median) as abs_residual

    from history_pairs
    inner join weekday_medians
        on history_pairs.metric_date = weekday_medians.metric_date
        and history_pairs.tenant_id = weekday_medians.tenant_id
        and history_pairs.metric = weekday_medians.metric
        and history_pairs.history_weekday = weekday_medians.history_weekday

),

baselines as (

    select
        residuals.metric_date,
        residuals.tenant_id,
        residuals.metric,
        max(residuals.value) as value,
        count(*) as history_points,
        percentile_cont(0.5) within group (order by residuals.abs_residual) as mad

    from residuals
    group by residuals.metric_date, residuals.tenant_id, residuals.metric

),

scored as (

    select
        baselines.metric_date,
        baselines.tenant_id,
        baselines.metric,
        baselines.value,
        baselines.history_points,
        same_weekday.weekday_median as expected_value,
        (baselines.value - same_weekday.weekday_median::numeric)
        / greatest(
            1.4826 * baselines.mad,
            {{ min_relative_scale }} * abs(same_weekday.weekday_median),
            1
        )::numeric as z_score

    from baselines
    inner join weekday_medians as same_weekday
        on baselines.metric_date = same_weekday.metric_date
        and baselines.tenant_id = same_weekday.tenant_id
        and baselines.metric = same_weekday.metric
        and extract(isodow from baselines.metric_date)::integer = same_weekday.history_weekday

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
            metric, value, metric_date,
            case when tenant_id = '__all__' then 'all tenants' else 'tenant ' || tenant_id end,
            case when z_score > 0 then 'higher' else 'lower' end,
            round(expected_value::numeric, 2), round(z_score, 1)
        ) as message

    from scored
    where history_points >= {{ min_history }}
        and expected_value >= {{ min_volume }}
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
