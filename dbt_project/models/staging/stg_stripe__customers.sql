-- latest version of every Stripe customer; tenant from metadata.tenant_id.
with

source as (

    {{ stripe_latest('stripe_customers') }}

),

renamed as (

    select
        id as customer_id,
        payload ->> 'email' as email,
        nullif(trim(payload ->> 'name'), '') as customer_name,
        upper(payload ->> 'currency') as currency,
        nullif(payload -> 'metadata' ->> 'tenant_id', '') as metadata_tenant_id,
        {{ stripe_ts("payload ->> 'created'") }} as created_at,
        payload -> 'discount' as discount,
        is_deleted,
        _extracted_at

    from source

)

select * from renamed
