-- the presets readers see (seeds/revenue_policy_presets.csv) are the ones dbt applies (macros/revenue/policy.sql).
with

macro_presets as (

    {% set rows = [] -%}
    {% for preset, settings in revenue_policy_presets().items() -%}
        {% for name, value in settings.items() -%}
            {% do rows.append("select '" ~ preset ~ "' as preset, '" ~ name ~ "' as policy_name, '"
                ~ (value | string | lower) ~ "' as policy_value") -%}
        {% endfor -%}
    {% endfor -%}
    {{ rows | join('\n    union all\n    ') }}

),

seed_presets as (

    select preset, policy_name, lower(policy_value) as policy_value from {{ ref('revenue_policy_presets') }}

),

final as (

    select * from (select * from macro_presets except select * from seed_presets) as missing_in_seed
    union all
    select * from (select * from seed_presets except select * from macro_presets) as missing_in_macro

)

select * from final
