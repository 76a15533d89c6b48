{#-
    The all-tenants rollup (docs/METRICS.md): an aggregate over rows that carry a tenant gives one row per tenant and,
    for each value of the other keys, one row with tenant_id = '__all__' over every row (no tenant counted twice).
    Use the pair in one select:

        select day, {{ tenant_or_all() }} as tenant_id, count(*) as n
        from rows_with_tenant
        {{ group_by_tenant_and_all(['day']) }}
-#}

{#- the tenant of a rollup row: the tenant, or '__all__' on the all-tenants row -#}
{% macro tenant_or_all(tenant_column='tenant_id') -%}
    case when grouping({{ tenant_column }}) = 1 then '__all__' else {{ tenant_column }} end
{%- endmacro %}

{#- group by `keys` per tenant and over all tenants -#}
{% macro group_by_tenant_and_all(keys, tenant_column='tenant_id') -%}
    group by grouping sets (({{ keys | join(', ') }}, {{ tenant_column }}), ({{ keys | join(', ') }}))
{%- endmacro %}
