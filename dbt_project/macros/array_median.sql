{#- the median of a numeric array expression (null for an empty array); Spark below -#}
{% macro array_median(array_expr) -%}
    {{ return(adapter.dispatch('array_median', 'execmetrics')(array_expr)) }}
{%- endmacro %}

{% macro default__array_median(array_expr) -%}
    (select percentile_cont(0.5) within group (order by element.value) from unnest({{ array_expr }}) as element (value))
{%- endmacro %}

{#- Spark: the middle element (or the mean of the middle two) of the sorted non-null elements -#}
{% macro spark__array_median(array_expr) -%}
    {%- set values = "sort_array(filter(" ~ array_expr ~ ", element -> element is not null))" -%}
    (case
        when size({{ values }}) = 0 then null
        when size({{ values }}) % 2 = 1 then cast(element_at({{ values }}, cast((size({{ values }}) + 1) / 2 as int)) as double)
        else (cast(element_at({{ values }}, cast(size({{ values }}) / 2 as int)) as double)
            + cast(element_at({{ values }}, cast(size({{ values }}) / 2 as int) + 1) as double)) / 2
    end)
{%- endmacro %}
