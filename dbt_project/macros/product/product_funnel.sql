{#-
    The funnel's "paying" step, joined from the revenue ledger (fct_mrr_daily, a daily model, so the funnel stays a
    daily model): a tenant is paying when one of its Stripe customers has MRR > 0 on some day inside the funnel window
    (creation day .. creation day + funnel_window_days - 1). product_funnel_has_paying() switches the step on.
-#}
{% macro product_funnel_has_paying() -%}
    {{ return(true) }}
{%- endmacro %}


{% macro product_funnel_paying_import() -%}
first_paid as (

    select
        tenant_id,
        min(day) as first_paying_date

    from {{ ref('fct_mrr_daily') }}
    where mrr > 0
    group by tenant_id

),
{%- endmacro %}

{% macro product_funnel_paying_flag() -%}
    coalesce(
        first_paid.first_paying_date <= signed_up.created_date + {{ var('funnel_window_days') | int - 1 }}
        and first_paid.first_paying_date <= (select as_of_date from as_of),
        false
    )
{%- endmacro %}

{% macro product_funnel_paying_join() -%}
    left join first_paid
        on signed_up.tenant_id = first_paid.tenant_id
{%- endmacro %}
