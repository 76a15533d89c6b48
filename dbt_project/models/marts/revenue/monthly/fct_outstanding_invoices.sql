-- one row per invoice still open on the as-of day (max_date, else today): amount remaining and its aging bucket by
-- days past due (due_date, or the creation day for automatically charged invoices): current, 1-30, 31-60, 61-90, 90+.
with

invoices as (

    select * from {{ ref('int_stripe__invoice_tenants') }}

),

open_invoices as (

    select
        invoices.*,
        {{ reporting_date('coalesce(invoices.due_at, invoices.created_at)') }} as due_day,
        {{ days_between(reporting_date('coalesce(invoices.due_at, invoices.created_at)'), revenue_as_of_date()) }}
            as days_past_due
    from invoices
    where
        invoices.status = 'open'
        and not invoices.is_internal
        and not invoices.is_deleted
        and invoices.amount_remaining > 0
        and {{ reporting_date('invoices.created_at') }} <= {{ revenue_as_of_date() }}

),

final as (

    select
        invoice_id,
        customer_id,
        tenant_id::{{ text_type() }} as tenant_id,
        {{ revenue_as_of_date() }} as as_of_day,
        due_day,
        days_past_due::integer as days_past_due,
        (case
            when days_past_due <= 0 then 'current'
            when days_past_due <= 30 then '1-30'
            when days_past_due <= 60 then '31-60'
            when days_past_due <= 90 then '61-90'
            else '90+'
        end)::{{ text_type() }} as aging_bucket,
        currency,
        amount_remaining,
        {{ to_reporting('amount_remaining', 'currency', revenue_as_of_date()) }}::numeric(20, 4)
            as amount_remaining_reporting,
        {{ policy_label_sql() }} as policy
    from open_invoices

)

select * from final
