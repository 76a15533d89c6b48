{#-
    Alert flags: one row per (metric_date, tenant_id, metric, rule) that fires, rule in ('threshold', 'anomaly'), on
    every day of fct_daily_metrics. The metrics rules may watch are the seed alert_metrics (fct_daily_metrics columns);
    a rule naming another fails the build (macro assert_alert_metrics_known).
    Threshold rules: the seed alert_thresholds (the most severe firing rule per row and metric wins), each applying to
    the days in its optional valid_from..valid_to. Anomalies: the scores of fct_metric_anomaly_scores that pass the
    anomaly_* vars (docs/METRICS.md, "Alerts"). A table, rebuilt from both on every run: a changed, added or removed
    rule changes the alerts of exactly the days it applies to, past ones included.
-#}
-- depends_on: {{ ref('alert_metrics') }}

{%- set z_threshold = var('anomaly_z_threshold') %}
{%- set metrics = alert_metric_names() %}
{{- assert_alert_metrics_known(metrics, var('anomaly_metrics'), ref('alert_thresholds')) }}

with

daily as (

    select * from {{ ref('fct_daily_metrics') }}

),

rules as (

    select * from {{ ref('alert_thresholds') }}

),

scores as (

    select * from {{ ref('fct_metric_anomaly_scores') }}

),

-- threshold rules -------------------------------------------------------------------------------------------

threshold_hits as (

    select
        daily.metric_date,
        daily.tenant_id,
        rules.metric,
        {{ product_metric_value('rules.metric', 'daily', metrics) }} as value,
        {{ product_metric_value('rules.volume_metric', 'daily', metrics) }} as volume,
        rules.rule_id,
        rules.comparator,
        rules.threshold,
        rules.severity,
        rules.min_volume,
        rules.description

    from daily
    inner join rules
        on
            (rules.tenant_scope = 'all' or rules.tenant_scope = daily.tenant_id)
            and (rules.valid_from is null or daily.metric_date >= rules.valid_from)
            and (rules.valid_to is null or daily.metric_date <= rules.valid_to)

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
        null::{{ numeric_type() }} as z_score,
        {{ format_text("'%s: %s is %s on %s for %s (rule %s: %s %s)'", [
            'coalesce(description, metric)', 'metric', 'value', 'metric_date', product_tenant_label('tenant_id'),
            'rule_id', 'comparator', 'threshold',
        ]) }} as message

    from threshold_ranked
    where severity_order = 1

),

-- anomalies -------------------------------------------------------------------------------------------------

anomaly_alerts as (

    select
        metric_date,
        tenant_id,
        metric,
        'anomaly' as rule,
        'robust_z' as rule_id,
        case when abs(z_score) >= 2 * {{ z_threshold }} then 'critical' else 'warning' end as severity,
        metric_value as value,
        round(expected_value, 4) as expected_value,
        round(z_score, 2) as z_score,
        {{ format_text("'Anomaly: %s is %s on %s for %s, %s than the usual %s for that weekday (robust z = %s)'", [
            'metric', 'metric_value', 'metric_date', product_tenant_label('tenant_id'),
            "case when z_score > 0 then 'higher' else 'lower' end",
            'round(expected_value, 2)', 'round(z_score, 1)',
        ]) }} as message

    from scores
    where
        metric in ({% for metric in var('anomaly_metrics') %}'{{ metric }}'{% if not loop.last %}, {% endif %}{% endfor %})
        and history_points >= {{ var('anomaly_min_history_days') | int }}
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
        tenant_id::{{ text_type() }} as tenant_id,
        metric::{{ text_type() }} as metric,
        rule::{{ text_type() }} as rule,
        rule_id::{{ text_type() }} as rule_id,
        severity::{{ text_type() }} as severity,
        value::{{ numeric_type() }} as metric_value,
        expected_value::{{ numeric_type() }} as expected_value,
        z_score::{{ numeric_type() }} as z_score,
        message::{{ text_type() }} as message

    from unioned

)

select * from final
