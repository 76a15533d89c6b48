-- the tenant conversion funnel per signup month and step (fct_conversion_funnel), as the dashboards read it.
with

funnel as (

    select * from {{ ref('fct_conversion_funnel') }}

),

final as (

    select
        signup_month::date as signup_month,
        step_number::integer as step_number,
        step_name::{{ text_type() }} as step_name,
        tenants::integer as tenants,
        conversion_from_previous::{{ numeric_type() }} as conversion_from_previous,
        conversion_from_start::{{ numeric_type() }} as conversion_from_start,
        is_complete::boolean as is_complete
    from funnel

)

select * from final
