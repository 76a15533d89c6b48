{#-
    Names instead of ids in the reporting tables: a reporting model over a mart with a tenant_id (and a customer_id)
    imports the names once and joins them by id, keeping the id when a name is missing:

        with
        facts as (select * from {{ ref('fct_...') }}),
        {{ reporting_name_imports(customers=true) }}
        final as (
            select
                {{ customer_name_columns('facts') }}
                {{ tenant_name_columns('facts', plan_and_segment=false) }}
                ...
            from facts
            {{ reporting_name_joins('facts', customers=true) }}
        )
-#}

{#- the import CTEs `customers` (rpt_customers, when asked) and `tenants` (rpt_tenants), each followed by a comma -#}
{% macro reporting_name_imports(customers=false) -%}
{%- if customers -%}
customers as (

    select * from {{ ref('rpt_customers') }}

),

{% endif -%}
tenants as (

    select * from {{ ref('rpt_tenants') }}

),
{%- endmacro %}

{#- customer_id and customer_name of the rows of `relation`, each followed by a comma -#}
{% macro customer_name_columns(relation) -%}
        {{ relation }}.customer_id::{{ text_type() }} as customer_id,
        coalesce(customers.customer_name, {{ relation }}.customer_id)::{{ text_type() }} as customer_name,
{%- endmacro %}

{#- tenant_id and tenant_name (and the tenant's plan and segment) of the rows of `relation`, each followed by a comma -#}
{% macro tenant_name_columns(relation, plan_and_segment=true) -%}
        {{ relation }}.tenant_id::{{ text_type() }} as tenant_id,
        coalesce(tenants.tenant_name, {{ relation }}.tenant_id)::{{ text_type() }} as tenant_name,
{%- if plan_and_segment %}
        tenants.plan::{{ text_type() }} as plan,
        tenants.segment::{{ text_type() }} as segment,
{%- endif %}
{%- endmacro %}

{#- the joins of the names onto `relation` by id -#}
{% macro reporting_name_joins(relation, customers=false) -%}
{%- if customers -%}
left join customers on {{ relation }}.customer_id = customers.customer_id
    {% endif -%}
left join tenants on {{ relation }}.tenant_id = tenants.tenant_id
{%- endmacro %}
