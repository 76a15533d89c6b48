{#-
    The rows of the daily metrics: one per (metric_date, tenant_id) for every counted tenant on each local day it
    exists (created on or before it and not deleted before it: its deletion day still counts), plus one '__all__' row
    per day. Days run from the first counted tenant's creation day to the last day with an event (or max_date).
    Every int_daily_* model has exactly these rows for the days it builds, and fct_daily_metrics joins them here.
-#}
{%- set lower_bound = daily_metrics_window_start() %}

with

tenants as (

    select * from {{ ref('int_tenants_classified') }}
    where is_counted

),

bounds as (

    select
        greatest(
            (select min(created_date) from tenants),
            {{ lower_bound if lower_bound is not none else 'null::date' }}
        ) as first_day,
        {{ product_last_date() }} as last_day

),

days as (

    select day::date as metric_date
    from bounds
    {{ join_series('bounds.first_day', 'bounds.last_day', 'day', 'day') }}

),

tenant_days as (

    select
        days.metric_date,
        tenants.tenant_id

    from days
    inner join tenants
        on
            tenants.created_date <= days.metric_date
            and (tenants.deleted_date is null or tenants.deleted_date >= days.metric_date)

),

final as (

    select
        metric_date,
        tenant_id

    from tenant_days

    union all

    select
        metric_date,
        '__all__' as tenant_id

    from days

)

select * from final
