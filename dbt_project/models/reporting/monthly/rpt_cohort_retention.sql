-- user and tenant cohort retention (fct_cohort_retention): weekly and monthly periods per signup-month cohort, with
-- the headline periods marked (weeks 1, 4 and 12; docs/METRICS.md, Cohort retention).
with

cohorts as (

    select * from {{ ref('fct_cohort_retention') }}

),

final as (

    select
        cohort_type::{{ text_type() }} as cohort_type,
        cohort_month::date as cohort_month,
        period_type::{{ text_type() }} as period_type,
        period_number::integer as period_number,
        cohort_size::integer as cohort_size,
        is_observable::boolean as is_observable,
        retained_members::integer as retained_members,
        retention_rate::{{ numeric_type() }} as retention_rate,
        retention_or_after_rate::{{ numeric_type() }} as retention_or_after_rate,
        (period_type = 'week' and period_number in (1, 4, 12))::boolean as is_headline_week,
        as_of_date::date as as_of_date
    from cohorts

)

select * from final
