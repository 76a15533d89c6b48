-- one row per customer per month in which the customer had MRR at the start or end of the month (or, under policy
-- same_month_new_churn = count_both, at any day of it): starting and ending MRR and the movement amounts, in the
-- reporting currency. start + new + expansion + reactivation + fx - contraction - churn = end, always.
with

customer_months as (

    select * from {{ ref('int_mrr_customer_months') }}

),

subscriptions as (

    select * from {{ ref('int_stripe__subscription_tenants') }}

),

payment_failed_cancellations as (

    select
        customer_id,
        date_trunc('month', {{ reporting_date('ended_at') }})::date as ended_month
    from subscriptions
    where
        cancellation_reason = 'payment_failed'
        and ended_at is not null
    group by customer_id, date_trunc('month', {{ reporting_date('ended_at') }})::date

),

relevant as (

    select
        customer_months.*,
        {{ months_between_starts('customer_months.last_paying_month_before', 'customer_months.month') }}::integer
        - 1 as gap_months,
        customer_months.starting_mrr = 0
        and customer_months.ending_mrr = 0
        and customer_months.peak_mrr > 0 as is_same_month_blip
    from customer_months
    where
        customer_months.starting_mrr > 0
        or customer_months.ending_mrr > 0
    {% if policy('same_month_new_churn') == 'count_both' %}or customer_months.peak_mrr > 0{% endif %}  -- noqa: LT02

),

typed as (

    select
        relevant.*,
        case
            when relevant.starting_mrr > 0 then null
            when
                relevant.last_paying_month_before is not null
                and relevant.gap_months <= {{ policy('reactivation_window_months') }}
                then 'reactivation'
            else 'new'
        end as arrival_type,
        case
            when
                relevant.starting_mrr > 0
                and relevant.ending_mrr > 0
                and relevant.starting_mrr_original_minor <> 0
                then round(
                    relevant.ending_mrr
                    - relevant.ending_mrr_original_minor * relevant.starting_mrr / relevant.starting_mrr_original_minor,
                    4
                )
            else 0
        end as fx_mrr_raw
    from relevant

),

fx_rounded as (

    -- MRR is rounded to 4 decimals per line, so a quantity change can leave ±0.0001 of "rate" noise: below half a
    -- cent the currency did not move, and the difference stays with expansion / contraction
    select
        typed.*,
        case when abs(typed.fx_mrr_raw) < 0.005 then 0 else typed.fx_mrr_raw end as fx_mrr
    from typed

),

amounts as (

    select
        fx_rounded.*,
        case
            when arrival_type = 'new' and is_same_month_blip then peak_mrr
            when arrival_type = 'new' then ending_mrr
            else 0
        end as new_mrr,
        case
            when arrival_type = 'reactivation' and is_same_month_blip then peak_mrr
            when arrival_type = 'reactivation' then ending_mrr
            else 0
        end as reactivation_mrr,
        case
            when starting_mrr > 0 and ending_mrr > 0 then greatest(ending_mrr - starting_mrr - fx_mrr, 0)
            else 0
        end as expansion_mrr,
        case
            when starting_mrr > 0 and ending_mrr > 0 then greatest(starting_mrr + fx_mrr - ending_mrr, 0)
            else 0
        end as contraction_mrr,
        case
            when is_same_month_blip then peak_mrr
            when starting_mrr > 0 and ending_mrr = 0 then starting_mrr
            else 0
        end as churned_mrr
    from fx_rounded

),

final as (

    select
        amounts.customer_id || '|' || amounts.month::{{ text_type() }} as customer_month_id,
        amounts.month,
        amounts.customer_id,
        amounts.tenant_id,
        amounts.currency,
        amounts.starting_mrr::numeric(20, 4) as starting_mrr,
        amounts.new_mrr::numeric(20, 4) as new_mrr,
        amounts.expansion_mrr::numeric(20, 4) as expansion_mrr,
        amounts.contraction_mrr::numeric(20, 4) as contraction_mrr,
        amounts.churned_mrr::numeric(20, 4) as churned_mrr,
        amounts.reactivation_mrr::numeric(20, 4) as reactivation_mrr,
        amounts.fx_mrr::numeric(20, 4) as fx_mrr,
        amounts.ending_mrr::numeric(20, 4) as ending_mrr,
        amounts.starting_mrr_original_minor::numeric(20, 4) as starting_mrr_original_minor,
        amounts.ending_mrr_original_minor::numeric(20, 4) as ending_mrr_original_minor,
        (case
            when amounts.is_same_month_blip then amounts.arrival_type || '_and_churn'
            when amounts.arrival_type is not null then amounts.arrival_type
            when amounts.churned_mrr > 0 then 'churn'
            when amounts.expansion_mrr > 0 then 'expansion'
            when amounts.contraction_mrr > 0 then 'contraction'
            when amounts.fx_mrr <> 0 then 'fx'
            else 'unchanged'
        end)::{{ text_type() }} as movement_type,
        (case
            when amounts.churned_mrr = 0 then null
            when amounts.last_paying_status = 'past_due' then 'involuntary'
            when payment_failed_cancellations.customer_id is not null then 'involuntary'
            else 'voluntary'
        end)::{{ text_type() }} as churn_type,
        {{ policy_label_sql() }} as policy
    from amounts
    left join payment_failed_cancellations
        on
            amounts.customer_id = payment_failed_cancellations.customer_id
            and payment_failed_cancellations.ended_month between amounts.month - interval '1 month' and amounts.month

)

select * from final
