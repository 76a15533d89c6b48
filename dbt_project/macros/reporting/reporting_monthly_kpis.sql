{#- The revenue KPIs of rpt_revenue_monthly that carry comparison columns (<kpi>_previous: the month before;
    <kpi>_last_year: the same month a year earlier). Definitions: docs/METRICS.md (Revenue, Reporting). -#}
{% macro reporting_monthly_kpis() -%}
    {{ return([
        'mrr', 'arr', 'paying_customers', 'arpa', 'new_mrr', 'expansion_mrr', 'contraction_mrr', 'churned_mrr',
        'reactivation_mrr', 'net_new_mrr', 'new_paying_customers', 'paying_customers_lost', 'customer_churn_rate',
        'gross_revenue_churn_rate', 'net_revenue_churn_rate', 'nrr', 'grr', 'quick_ratio', 'ltv', 'cac',
        'cac_payback_months', 'trial_conversion_rate', 'runway_months', 'net_burn', 'refunded_amount',
    ]) }}
{%- endmacro %}
