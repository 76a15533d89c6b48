-- one row per customer per month from the customer's first ledger month to the as-of month: MRR at month end
-- (the month's last day, or the as-of day for the current month), the month's peak, and the last paying month
-- before it (for reactivation and same-month join-and-leave).
with

ledger as (

    select * from {{ ref('int_mrr_customer_days') }}

),

customer_spans as (

    select
        customer_id,
        min(tenant_id) as tenant_id,
        min(currency) as currency,
        date_trunc('month', min(day))::date as first_month
    from ledger
    group by customer_id

),

months as (

    select
        customer_spans.customer_id,
        customer_spans.tenant_id,
        customer_spans.currency,
        month::date as month,
        least({{ month_last_day('month') }}, {{ revenue_as_of_date() }}) as month_end_day
    from customer_spans
    {{ join_series(
        'customer_spans.first_month', "date_trunc('month', " ~ revenue_as_of_date() ~ ")::date", 'month', 'month'
    ) }}

),

month_peaks as (

    select
        customer_id,
        date_trunc('month', day)::date as month,
        max(mrr) as peak_mrr,
        max(mrr_original_minor) as peak_mrr_original_minor,
        {{ latest_value('status', 'day', 'mrr > 0') }} as last_paying_status
    from ledger
    group by customer_id, date_trunc('month', day)::date

),

month_ends as (

    select
        months.*,
        coalesce(ledger.mrr, 0) as ending_mrr,
        coalesce(ledger.mrr_original_minor, 0) as ending_mrr_original_minor,
        coalesce(month_peaks.peak_mrr, 0) as peak_mrr,
        month_peaks.last_paying_status
    from months
    left join ledger
        on
            months.customer_id = ledger.customer_id
            and months.month_end_day = ledger.day
    left join month_peaks
        on
            months.customer_id = month_peaks.customer_id
            and months.month = month_peaks.month

),

with_history as (

    select
        month_ends.*,
        coalesce(lag(ending_mrr) over customer_months, 0) as starting_mrr,
        coalesce(lag(ending_mrr_original_minor) over customer_months, 0) as starting_mrr_original_minor,
        lag(last_paying_status) over customer_months as previous_last_paying_status,
        max(case
            when ending_mrr > 0 {% if policy('same_month_new_churn') == 'count_both' %}or peak_mrr > 0{% endif %}
                then month
        end) over (partition by customer_id order by month rows between unbounded preceding and 1 preceding)
            as last_paying_month_before
    from month_ends
    window customer_months as (partition by customer_id order by month)

),

final as (

    select
        customer_id,
        tenant_id,
        currency,
        month,
        month_end_day,
        starting_mrr,
        ending_mrr,
        starting_mrr_original_minor,
        ending_mrr_original_minor,
        peak_mrr,
        coalesce(last_paying_status, previous_last_paying_status) as last_paying_status,
        last_paying_month_before
    from with_history

)

select * from final
