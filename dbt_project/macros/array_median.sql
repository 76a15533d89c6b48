{#- the median of a numeric array expression (null for an empty array); another adapter adds <adapter>__array_median -#}
{% macro array_median(array_expr) -%}
    {{ return(adapter.dispatch('array_median', 'execmetrics')(array_expr)) }}
{%- endmacro %}

{% macro default__array_median(array_expr) -%}
    (select percentile_cont(0.5) within group (order by element.value) from unnest({{ array_expr }}) as element (value))
{%- endmacro %}
