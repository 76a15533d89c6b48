-- the metric alerts (fct_metric_alerts) with the tenant's name, most severe first within a day (severity_rank).
with

alerts as (

    select * from {{ ref('fct_metric_alerts') }}

),

{{ reporting_name_imports() }}

final as (

    select
        alerts.metric_date::date as metric_date,
        {{ tenant_name_columns('alerts') }}
        alerts.metric::{{ text_type() }} as metric,
        alerts.rule::{{ text_type() }} as rule,
        alerts.rule_id::{{ text_type() }} as rule_id,
        alerts.severity::{{ text_type() }} as severity,
        (case alerts.severity when 'critical' then 0 when 'warning' then 1 else 2 end)::integer as severity_rank,
        alerts.metric_value::{{ numeric_type() }} as metric_value,
        alerts.expected_value::{{ numeric_type() }} as expected_value,
        alerts.z_score::{{ numeric_type() }} as z_score,
        -- the message names the tenant by its id (fct_metric_alerts); readers see its name
        replace(alerts.message, 'tenant ' || alerts.tenant_id, coalesce(tenants.tenant_name, alerts.tenant_id))::{{ text_type() }}
            as message
    from alerts
    {{ reporting_name_joins('alerts') }}

)

select * from final
