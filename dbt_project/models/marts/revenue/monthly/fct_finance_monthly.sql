-- one row per month of the finance inputs seed (company-wide, tenant_id = '__all__'): spend, net cash collected
-- from Stripe, net burn (operating expenses - net cash collected), its trailing-3-month average and runway in
-- months (cash balance / trailing-3-month net burn; null when the company is not burning cash).
with

finance as (

    select * from {{ ref('finance_monthly_inputs') }}

),

payments as (

    select * from {{ ref('fct_payments_monthly') }}

),

burn as (

    select
        finance.month,
        finance.sales_marketing_spend,
        finance.operating_expenses,
        finance.cash_balance,
        coalesce(payments.net_collected, 0) as net_cash_collected,
        finance.operating_expenses - coalesce(payments.net_collected, 0) as net_burn
    from finance
    left join payments
        on
            finance.month = payments.month
            and payments.tenant_id = '__all__'

),

with_trailing as (

    select
        burn.*,
        avg(net_burn) over (order by month rows between 2 preceding and current row) as trailing_3m_net_burn
    from burn

),

final as (

    select
        month,
        '__all__'::{{ text_type() }} as tenant_id,
        '{{ var("reporting_currency") }}'::{{ text_type() }} as reporting_currency,
        sales_marketing_spend::numeric(20, 4) as sales_marketing_spend,
        operating_expenses::numeric(20, 4) as operating_expenses,
        cash_balance::numeric(20, 4) as cash_balance,
        net_cash_collected::numeric(20, 4) as net_cash_collected,
        net_burn::numeric(20, 4) as net_burn,
        trailing_3m_net_burn::numeric(20, 4) as trailing_3m_net_burn,
        (case when trailing_3m_net_burn > 0 then cash_balance / trailing_3m_net_burn end)::numeric(12, 2)
            as runway_months,
        {{ policy_label_sql() }} as policy
    from with_trailing

)

select * from final
