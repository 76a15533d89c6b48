-- one row per counted tenant plus the all-tenants row ('__all__', "All tenants") and the Stripe customers without a
-- tenant ('__unassigned__'): the names, plan and segment every reporting table and dashboard filter shows.
-- segment = the band of the tenant's MRR on the revenue as-of day (vars segment_mid_market_min_mrr,
-- segment_enterprise_min_mrr); a tenant paying nothing is 'non-paying'. Definitions: docs/METRICS.md (Reporting).
with

tenants as (

    select * from {{ ref('dim_tenants') }}

),

company as (

    select
        min(created_date) as created_date,
        max(as_of_date) as as_of_date,
        sum(current_mrr) as current_mrr,
        count(*) filter (where is_paying) as paying_tenants,
        max(reporting_currency) as reporting_currency
    from tenants

),

rows_with_all as (

    select
        tenant_id,
        coalesce(nullif(trim(tenant_name), ''), tenant_id) as tenant_name,
        coalesce(plan, 'unknown') as plan,
        created_date,
        deleted_date,
        is_deleted,
        is_paying,
        current_mrr,
        reporting_currency,
        as_of_date,
        false as is_all_tenants
    from tenants

    union all

    select
        '__all__' as tenant_id,
        'All tenants' as tenant_name,
        'all' as plan,
        created_date,
        null::date as deleted_date,
        false as is_deleted,
        paying_tenants > 0 as is_paying,
        current_mrr,
        reporting_currency,
        as_of_date,
        true as is_all_tenants
    from company

    union all

    select
        '__unassigned__' as tenant_id,
        'Stripe customers without a tenant' as tenant_name,
        'none' as plan,
        created_date,
        null::date as deleted_date,
        false as is_deleted,
        null::boolean as is_paying,
        null::{{ numeric_type() }} as current_mrr,
        reporting_currency,
        as_of_date,
        false as is_all_tenants
    from company

),

named as (

    -- a name two tenants share gets the tenant id appended, so a name picks one tenant
    select
        rows_with_all.*,
        count(*) over (partition by lower(tenant_name)) as name_count
    from rows_with_all

),

final as (

    select
        tenant_id::{{ text_type() }} as tenant_id,
        (case when name_count > 1 then tenant_name || ' (' || tenant_id || ')' else tenant_name end)::{{ text_type() }}
            as tenant_name,
        plan::{{ text_type() }} as plan,
        (case
            when is_all_tenants then 'all'
            when tenant_id = '__unassigned__' then 'unassigned'
            when current_mrr >= {{ var('segment_enterprise_min_mrr') }} then 'enterprise'
            when current_mrr >= {{ var('segment_mid_market_min_mrr') }} then 'mid-market'
            when current_mrr > 0 then 'self-serve'
            else 'non-paying'
        end)::{{ text_type() }} as segment,
        created_date::date as created_date,
        deleted_date::date as deleted_date,
        is_deleted::boolean as is_deleted,
        is_paying::boolean as is_paying,
        current_mrr::numeric(20, 4) as current_mrr,
        reporting_currency::{{ text_type() }} as reporting_currency,
        as_of_date::date as as_of_date,
        is_all_tenants::boolean as is_all_tenants
    from named

)

select * from final
