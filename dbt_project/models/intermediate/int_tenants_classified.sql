-- one row per tenant with its local created / deleted days and the exclusion flag every product metric uses.
with

tenants as (

    select * from {{ ref('stg_app__tenants') }}

),

classified as (

    select
        tenant_id,
        tenant_name,
        plan,
        stripe_customer_id,
        is_internal,
        created_at,
        deleted_at,
        {{ reporting_date('created_at') }} as created_date,
        {{ reporting_date('deleted_at') }} as deleted_date,
        deleted_at is not null as is_deleted,
        not is_internal as is_counted

    from tenants

),

final as (

    select * from classified

)

select * from final
