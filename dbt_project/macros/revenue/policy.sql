{#-
    Revenue policies. `var('revenue_policy')` picks a preset (stripe | chartmogul | profitwell, default stripe);
    any `policy_<name>` var overrides that one setting. `policy('<name>')` is the effective value.
    The presets are mirrored in seeds/revenue_policy_presets.csv for readers (a data test keeps the two equal).
-#}

{% macro revenue_policy_presets() %}
    {{ return({
        'stripe': {
            'churn_recognition': 'period_end',
            'past_due_grace_days': 30,
            'trials': 'exclude',
            'discounts': 'all',
            'full_discount_as_free': true,
            'pauses': 'zero',
            'refunds': 'ignore',
            'reactivation_window_months': 9999,
            'same_month_new_churn': 'net_zero',
        },
        'chartmogul': {
            'churn_recognition': 'period_end',
            'past_due_grace_days': 9999,
            'trials': 'exclude',
            'discounts': 'all',
            'full_discount_as_free': true,
            'pauses': 'zero',
            'refunds': 'ignore',
            'reactivation_window_months': 9999,
            'same_month_new_churn': 'count_both',
        },
        'profitwell': {
            'churn_recognition': 'cancellation',
            'past_due_grace_days': 14,
            'trials': 'exclude',
            'discounts': 'forever_only',
            'full_discount_as_free': true,
            'pauses': 'zero',
            'refunds': 'full_refund_zero',
            'reactivation_window_months': 9999,
            'same_month_new_churn': 'net_zero',
        },
    }) }}
{% endmacro %}

{% macro revenue_policy_allowed() %}
    {{ return({
        'churn_recognition': ['period_end', 'cancellation'],
        'trials': ['exclude', 'include'],
        'discounts': ['all', 'forever_only', 'none'],
        'full_discount_as_free': [true, false],
        'pauses': ['zero', 'keep'],
        'refunds': ['ignore', 'full_refund_zero'],
        'same_month_new_churn': ['net_zero', 'count_both'],
    }) }}
{% endmacro %}

{% macro revenue_preset_name() %}
    {%- set name = var('revenue_policy') -%}
    {%- if name not in revenue_policy_presets() -%}
        {{ exceptions.raise_compiler_error("var revenue_policy=" ~ name ~ " is not a preset; use one of "
            ~ (revenue_policy_presets().keys() | list | join(', '))) }}
    {%- endif -%}
    {{ return(name) }}
{% endmacro %}

{% macro policy(name) %}
    {%- set presets = revenue_policy_presets() -%}
    {%- set preset = presets[revenue_preset_name()] -%}
    {%- if name not in preset -%}
        {{ exceptions.raise_compiler_error("unknown revenue policy " ~ name) }}
    {%- endif -%}
    {%- set override = var('policy_' ~ name) -%}
    {%- set value = preset[name] if override is none else override -%}
    {%- if value is string and value | lower in ('true', 'false') -%}
        {%- set value = (value | lower == 'true') -%}
    {%- endif -%}
    {%- if name in ('past_due_grace_days', 'reactivation_window_months') -%}
        {%- set value = value | int -%}
    {%- endif -%}
    {%- set allowed = revenue_policy_allowed().get(name) -%}
    {%- if allowed is not none and value not in allowed -%}
        {{ exceptions.raise_compiler_error("policy_" ~ name ~ "=" ~ value ~ " is not one of " ~ (allowed | join(', '))) }}
    {%- endif -%}
    {{ return(value) }}
{% endmacro %}

{#- The label written on every revenue mart row: the preset, plus any overridden setting (name=value). -#}
{% macro policy_label() %}
    {%- set preset_name = revenue_preset_name() -%}
    {%- set preset = revenue_policy_presets()[preset_name] -%}
    {%- set parts = [preset_name] -%}
    {%- for name in preset | sort -%}
        {%- if var('policy_' ~ name) is not none and policy(name) != preset[name] -%}
            {%- do parts.append(name ~ '=' ~ policy(name)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(parts | join(' ')) }}
{% endmacro %}

{% macro policy_label_sql() %}'{{ policy_label() }}'::{{ text_type() }}{% endmacro %}
