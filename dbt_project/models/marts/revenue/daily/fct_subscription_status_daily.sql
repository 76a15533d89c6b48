-- one row per day per tenant (plus '__all__'): how many subscriptions were trialing, active, past_due (unpaid invoice
-- within the grace days), unpaid (beyond them, or marked uncollectible), paused, and how many ended that day.
-- A subscription's status on a day comes from its billing history, not from today's status.
with

entitlements as (

    select * from {{ ref('int_mrr_entitlements') }}

),

lines as (

    select * from {{ ref('int_invoice_lines_priced') }}

),

subscription_tenants as (

    select
        subscription_id,
        ended_at,
        tenant_id
    from {{ ref('int_stripe__subscription_tenants') }}
    where not is_internal

),

covered as (

    select
        subscription_id,
        case when entitlement_status in ('free', 'refunded') then 'active' else entitlement_status end as status,
        valid_from,
        valid_to
    from entitlements
    where subscription_id is not null

),

unpaid as (

    select
        lines.subscription_id,
        'unpaid' as status,
        case
            when lines.invoice_status = 'open'
                then {{ reporting_date('lines.invoice_created_at') }} + {{ policy('past_due_grace_days') }}
            else {{ reporting_date('lines.period_start_at') }}
        end as valid_from,
        least(
            {{ reporting_date('lines.period_end_at') }},
            coalesce({{ reporting_date('subscription_tenants.ended_at') }}, {{ reporting_date('lines.period_end_at') }})
        ) as valid_to
    from lines
    inner join subscription_tenants on lines.subscription_id = subscription_tenants.subscription_id
    where
        lines.invoice_status in ('open', 'uncollectible')
        and not lines.is_proration

),

intervals as (

    select * from covered
    union all
    select * from unpaid

),

subscription_days as (

    select
        intervals.subscription_id,
        day::date as day,
        min(case intervals.status
            when 'unpaid' then 1 when 'past_due' then 2 when 'paused' then 3 when 'active' then 4 else 5
        end) as status_rank
    from intervals
    {{ join_series('intervals.valid_from', 'least(intervals.valid_to - 1, ' ~ revenue_as_of_date() ~ ')', 'day', 'day') }}
    group by intervals.subscription_id, day::date

),

ended as (

    select
        subscription_id,
        {{ reporting_date('ended_at') }} as day
    from subscription_tenants
    where
        ended_at is not null
        and {{ reporting_date('ended_at') }} <= {{ revenue_as_of_date() }}

),

status_rows as (

    select
        subscription_days.day,
        subscription_tenants.tenant_id,
        subscription_days.status_rank,
        false as is_ended
    from subscription_days
    inner join subscription_tenants on subscription_days.subscription_id = subscription_tenants.subscription_id
    union all
    select
        ended.day,
        subscription_tenants.tenant_id,
        null as status_rank,
        true as is_ended
    from ended
    inner join subscription_tenants on ended.subscription_id = subscription_tenants.subscription_id

),

rolled_up as (

    select
        day,
        {{ tenant_or_all() }} as tenant_id,
        count(*) filter (where status_rank = 5) as trialing,
        count(*) filter (where status_rank = 4) as active,
        count(*) filter (where status_rank = 2) as past_due,
        count(*) filter (where status_rank = 1) as unpaid,
        count(*) filter (where status_rank = 3) as paused,
        count(*) filter (where is_ended) as canceled
    from status_rows
    {{ group_by_tenant_and_all(['day']) }}

),

final as (

    select
        day::{{ text_type() }} || '|' || tenant_id as status_day_id,
        day,
        tenant_id::{{ text_type() }} as tenant_id,
        trialing::integer as trialing,
        active::integer as active,
        past_due::integer as past_due,
        unpaid::integer as unpaid,
        paused::integer as paused,
        canceled::integer as canceled,
        {{ policy_label_sql() }} as policy
    from rolled_up

)

select * from final
