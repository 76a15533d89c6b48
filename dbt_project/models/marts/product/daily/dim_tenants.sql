-- one row per counted (non-internal) tenant: the app's attributes (latest version) and its paying state from the
-- revenue ledger. first_paying_month = the first month whose month-end MRR (summed over the tenant's Stripe customers,
-- tenant from customer.metadata.tenant_id else the app's stripe_customer_id) is > 0, as dim_revenue_customers;
-- is_paying / current_mrr = MRR on the revenue as-of day (var max_date, else today).
with

tenants as (

    select * from {{ ref('int_tenants_classified') }}
    where is_counted

),

customer_months as (

    select * from {{ ref('int_mrr_customer_months') }}

),

tenant_months as (

    select
        tenant_id,
        month,
        sum(ending_mrr) as mrr

    from customer_months
    group by tenant_id, month

),

paying as (

    select
        tenant_id,
        min(month) filter (where mrr > 0) as first_paying_month,
        coalesce(sum(mrr) filter (where month = date_trunc('month', {{ revenue_as_of_date() }})::date), 0)
            as current_mrr

    from tenant_months
    group by tenant_id

),

final as (

    select
        tenants.tenant_id::{{ text_type() }} as tenant_id,
        tenants.tenant_name::{{ text_type() }} as tenant_name,
        tenants.plan::{{ text_type() }} as plan,
        tenants.created_date::date as created_date,
        tenants.deleted_date::date as deleted_date,
        tenants.is_deleted::boolean as is_deleted,
        tenants.stripe_customer_id::{{ text_type() }} as stripe_customer_id,
        paying.first_paying_month::date as first_paying_month,
        '{{ var("reporting_currency") }}'::{{ text_type() }} as reporting_currency,
        coalesce(paying.current_mrr, 0)::numeric(20, 4) as current_mrr,
        (coalesce(paying.current_mrr, 0) > 0)::boolean as is_paying,
        {{ revenue_as_of_date() }}::date as as_of_date

    from tenants
    left join paying
        on tenants.tenant_id = paying.tenant_id

)

select * from final
