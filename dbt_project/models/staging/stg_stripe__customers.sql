-- latest version of every Stripe customer; tenant from metadata.tenant_id.
with

source as (

    {{ stripe_latest('stripe_customers') }}

),

renamed as (

    select
        id as customer_id,
        {{ json_text('payload', 'email') }} as email,
        nullif(trim({{ json_text('payload', 'name') }}), '') as customer_name,
        upper({{ json_text('payload', 'currency') }}) as currency,
        nullif({{ json_text('payload', 'metadata', 'tenant_id') }}, '') as metadata_tenant_id,
        {{ stripe_ts(json_text('payload', 'created')) }} as created_at,
        {{ json_get('payload', 'discount') }} as discount,
        is_deleted,
        _extracted_at

    from source

)

select * from renamed
