{#-
    The funnel's "paying" step needs the revenue marts. Until they are joined (product_funnel_has_paying()
    returns false), the funnel has three steps and these macros render nothing.
-#}
{% macro product_funnel_has_paying() -%}
    {{ return(false) }}
{%- endmacro %}


{% macro product_funnel_paying_import() -%}
{%- endmacro %}

{% macro product_funnel_paying_flag() -%}
    false
{%- endmacro %}

{% macro product_funnel_paying_join() -%}
{%- endmacro %}
