-- the metric alerts (fct_metric_alerts) with the tenant's name, most severe first within a day (severity_rank).
with

alerts as (

    select * from {{ ref('fct_metric_alerts') }}

),

tenants as (

    select * from {{ ref('rpt_tenants') }}

),

final as (

    select
        alerts.metric_date::date as metric_date,
        alerts.tenant_id::text as tenant_id,
        coalesce(tenants.tenant_name, alerts.tenant_id)::text as tenant_name,
        tenants.plan::text as plan,
        tenants.segment::text as segment,
        alerts.metric::text as metric,
        alerts.rule::text as rule,
        alerts.rule_id::text as rule_id,
        alerts.severity::text as severity,
        (case alerts.severity when 'critical' then 0 when 'warning' then 1 else 2 end)::integer as severity_rank,
        alerts.metric_value::numeric as metric_value,
        alerts.expected_value::numeric as expected_value,
        alerts.z_score::numeric as z_score,
        -- the message names the tenant by its id (fct_metric_alerts); readers see its name
        replace(alerts.message, 'tenant ' || alerts.tenant_id, coalesce(tenants.tenant_name, alerts.tenant_id))::text
            as message
    from alerts
    left join tenants on alerts.tenant_id = tenants.tenant_id

)

select * from final
