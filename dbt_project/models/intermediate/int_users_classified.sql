-- one row per user: local signup day and whether the user counts in product metrics
-- (counted = not staff, not deleted, and belonging to a known, non-internal tenant).
with

users as (

    select * from {{ ref('stg_app__users') }}

),

tenants as (

    select * from {{ ref('int_tenants_classified') }}

),

joined as (

    select
        users.user_id,
        users.tenant_id,
        users.created_at,
        users.deleted_at,
        users.is_staff,
        {{ reporting_date('users.created_at') }} as signup_date,
        {{ reporting_date('users.deleted_at') }} as deleted_date,
        users.deleted_at is not null as is_deleted,
        coalesce(tenants.is_internal, true) as tenant_is_internal,
        (
            not users.is_staff
            and users.deleted_at is null
            and coalesce(tenants.is_counted, false)
        ) as is_counted

    from users
    left join tenants
        on users.tenant_id = tenants.tenant_id

),

final as (

    select * from joined

)

select * from final
