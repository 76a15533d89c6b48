-- one row per month per tenant (plus '__all__'): cash collected, refunds, failed payments, dunning outcomes and
-- voluntary vs involuntary churn, in the reporting currency.
with

cash as (

    select * from {{ ref('int_stripe__cash_movements') }}
    where not is_internal

),

failed as (

    select * from {{ ref('fct_failed_payments') }}

),

dunning as (

    select * from {{ ref('fct_invoice_dunning') }}

),

movements as (

    select * from {{ ref('fct_mrr_movements') }}

),

facts as (

    select
        tenant_id,
        date_trunc('month', day)::date as month,
        kind,
        amount,
        null::{{ text_type() }} as detail
    from cash
    union all
    select
        tenant_id,
        date_trunc('month', day)::date,
        'failed_' || payment_object,
        failed_amount,
        failures::{{ text_type() }}
    from failed
    where tenant_id <> '__all__'
    union all
    select
        tenant_id,
        invoice_month,
        'dunning_' || outcome,
        amount_due_reporting,
        null::{{ text_type() }}
    from dunning
    union all
    select
        tenant_id,
        month,
        'churn_' || churn_type,
        churned_mrr,
        null::{{ text_type() }}
    from movements
    where churn_type is not null

),

final as (

    select
        month::{{ text_type() }} || '|' || {{ tenant_or_all() }} as payments_month_id,
        month,
        ({{ tenant_or_all() }})::{{ text_type() }} as tenant_id,
        coalesce(sum(amount) filter (where kind = 'collected'), 0)::numeric(20, 4) as gross_collected,
        (count(*) filter (where kind = 'refund'))::integer as refunds,
        coalesce(sum(amount) filter (where kind = 'refund'), 0)::numeric(20, 4) as refunded_amount,
        (
            coalesce(sum(amount) filter (where kind = 'collected'), 0)
            - coalesce(sum(amount) filter (where kind = 'refund'), 0)
        )::numeric(20, 4
        ) as net_collected,
        coalesce(sum(detail::integer) filter (where kind = 'failed_charge'), 0)::integer as failed_charges,
        coalesce(sum(detail::integer) filter (where kind = 'failed_payment_intent'), 0)::integer
            as failed_payment_intents,
        (count(*) filter (where kind = 'dunning_recovered'))::integer as dunning_recovered,
        (count(*) filter (where kind = 'dunning_lost'))::integer as dunning_lost,
        (count(*) filter (where kind = 'dunning_in_dunning'))::integer as dunning_in_progress,
        coalesce(sum(amount) filter (where kind = 'dunning_recovered'), 0)::numeric(20, 4) as dunning_recovered_amount,
        coalesce(sum(amount) filter (where kind = 'dunning_lost'), 0)::numeric(20, 4) as dunning_lost_amount,
        (count(*) filter (where kind = 'churn_voluntary'))::integer as voluntary_churned_customers,
        (count(*) filter (where kind = 'churn_involuntary'))::integer as involuntary_churned_customers,
        coalesce(sum(amount) filter (where kind = 'churn_voluntary'), 0)::numeric(20, 4) as voluntary_churned_mrr,
        coalesce(sum(amount) filter (where kind = 'churn_involuntary'), 0)::numeric(20, 4) as involuntary_churned_mrr,
        {{ policy_label_sql() }} as policy
    from facts
    {{ group_by_tenant_and_all(['month']) }}

)

select * from final
