{{ config(**mrr_ledger_config()) }}
-- the daily MRR ledger (int_mrr_customer_days) for readers: one row per customer per day with MRR, its status and
-- the policy it was computed under. Incremental with the ledger's window: a run replaces the days it rebuilt.
with

ledger as (

    select * from {{ ref('int_mrr_customer_days') }}
    {%- if is_incremental() %}
        where day >= {{ mrr_daily_window_start() }}
    {%- endif %}

),

final as (

    select
        customer_id,
        tenant_id,
        day,
        currency,
        mrr_original_minor,
        mrr,
        reporting_currency,
        status,
        policy
    from ledger

)

select * from final
