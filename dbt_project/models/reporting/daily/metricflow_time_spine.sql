-- the day spine the dbt semantic layer (MetricFlow) joins metrics to: every day from 2015 to 2040.
with

days as (

    select day::date as date_day
    from {{ series("date '2015-01-01'", "date '2040-12-31'", 'day', 'day') }}

)

select * from days
