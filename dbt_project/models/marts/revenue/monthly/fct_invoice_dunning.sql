-- one row per invoice that went through dunning (a failed first attempt: attempt_count > 1, or attempted and not
-- paid): attempts and outcome — recovered (paid in the end), lost (voided / uncollectible, or still open while the
-- subscription is unpaid / canceled), or in_dunning (open, still being retried).
with

invoices as (

    select * from {{ ref('int_stripe__invoice_tenants') }}

),

dunning as (

    select * from invoices
    where
        not is_deleted
        and not is_internal
        and attempted
        and attempt_count >= 1
        and (attempt_count > 1 or status <> 'paid')
        and status <> 'draft'
        and amount_due > 0

),

final as (

    select
        invoice_id,
        customer_id,
        tenant_id::{{ text_type() }} as tenant_id,
        subscription_id,
        {{ reporting_date('created_at') }} as invoice_day,
        date_trunc('month', {{ reporting_date('created_at') }})::date as invoice_month,
        attempt_count,
        status as invoice_status,
        (case
            when status = 'paid' then 'recovered'
            when status in ('void', 'uncollectible') then 'lost'
            when subscription_status in ('unpaid', 'canceled', 'incomplete_expired') then 'lost'
            else 'in_dunning'
        end)::{{ text_type() }} as outcome,
        currency,
        amount_due,
        {{ to_reporting('amount_due', 'currency', reporting_date('created_at')) }}::numeric(20, 4)
            as amount_due_reporting,
        {{ policy_label_sql() }} as policy
    from dunning

)

select * from final
