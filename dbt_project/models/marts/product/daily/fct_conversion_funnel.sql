{#-
    Tenant conversion funnel per signup month (tenant created_at, local): one row per (signup_month, step).
    Steps, each counting tenants that reached it and every earlier step:
      1 signed_up     the tenant was created
      2 activated     its counted users did >= activation_min_count activation_events within activation_window_days
                      of the tenant's creation (creation day = day 1)
      3 first_report  a report was generated within funnel_window_days of creation
      4 paying        a Stripe customer of the tenant had MRR > 0 (fct_mrr_daily) on a day within funnel_window_days
                      of creation (product_funnel_has_paying() switches the step on)
    is_complete is false while some tenant of the month is still inside its funnel window.
    The days each tenant reached steps 2 and 3 come from int_tenant_funnel_steps (incremental): this model reads one
    row per tenant, not every user's every active day.
-#}
{%- set funnel_window_days = var('funnel_window_days') | int %}

{#- the funnel's steps: number, name, the monthly count of tenants that reached it -#}
{%- set steps = [
    ['1', "'signed_up'", 'monthly.step_1'],
    ['2', "'activated'", 'monthly.step_2'],
    ['3', "'first_report'", 'monthly.step_3'],
] %}
{%- if product_funnel_has_paying() %}{% do steps.append(['4', "'paying'", 'monthly.step_4']) %}{% endif %}

with

tenants as (

    select * from {{ ref('int_tenants_classified') }}
    where is_counted

),

tenant_funnel as (

    select * from {{ ref('int_tenant_funnel_steps') }}

),

{{ product_funnel_paying_import() }}

as_of as (

    select {{ product_last_date() }} as as_of_date

),

signed_up as (

    select
        tenant_id,
        created_date,
        date_trunc('month', created_date)::date as signup_month

    from tenants
    where created_date <= (select as_of_date from as_of)

),

tenant_steps as (

    select
        signed_up.signup_month,
        signed_up.created_date,
        true as is_signed_up,
        coalesce(tenant_funnel.activated_date <= (select as_of_date from as_of), false) as is_activated,
        coalesce(tenant_funnel.first_report_date <= (select as_of_date from as_of), false) as has_first_report,
        {{ product_funnel_paying_flag() }} as is_paying

    from signed_up
    left join tenant_funnel
        on signed_up.tenant_id = tenant_funnel.tenant_id
    {{ product_funnel_paying_join() }}

),

monthly as (

    select
        signup_month,
        max(created_date) as last_created_date,
        count(*) as step_1,
        count(*) filter (where is_activated) as step_2,
        count(*) filter (where is_activated and has_first_report) as step_3,
        count(*) filter (where is_activated and has_first_report and is_paying) as step_4

    from tenant_steps
    group by signup_month

),

steps as (

    select
        monthly.signup_month,
        monthly.last_created_date,
        step.step_number,
        step.step_name,
        step.tenants,
        lag(step.tenants) over (partition by monthly.signup_month order by step.step_number) as previous_tenants,
        monthly.step_1 as starting_tenants

    from monthly
    {{ join_rows(steps, 'step', ['step_number', 'step_name', 'tenants']) }}

),

final as (

    select
        signup_month::date as signup_month,
        step_number::integer as step_number,
        step_name::{{ text_type() }} as step_name,
        tenants::integer as tenants,
        {{ product_ratio('tenants', 'previous_tenants') }} as conversion_from_previous,
        {{ product_ratio('tenants', 'starting_tenants') }} as conversion_from_start,
        {{ funnel_window_days }}::integer as window_days,
        (last_created_date + {{ funnel_window_days - 1 }} <= (select as_of_date from as_of))::boolean as is_complete,
        (select as_of_date from as_of)::date as as_of_date

    from steps

)

select * from final
