{#-
    Access control and the audit log, seen from dbt (docs/OPERATIONS.md, "Access control").

    `execmetrics warehouse grant` installs two things these hooks call when they exist (a one-user warehouse
    without them builds as before):
    - access.after_build(schema, name): after every model and seed, the relation goes to the transformer role
      and, in marts, gets its grants and row-level security back. A rebuild (--full-refresh included) creates a
      new table without them; this post-hook, inside the build's transaction, restores them before anyone sees it.
    - audit.record_config(target, content, actor): at the end of every run, each seed's content is compared with
      the last seen one; a change (a threshold, a policy preset, an FX rate, a finance input) is one audit event
      naming the rows added and removed.
-#}

{% macro include_personal_data() %}
    {{ return((var('include_personal_data') | string | trim | lower) in ['true', '1', 'yes', 'on']) }}
{% endmacro %}

{#- Models holding personal data: built only when INCLUDE_PERSONAL_DATA is on, dropped by the next run when off. -#}
{% macro personal_data_models() %}
    {{ return([('marts', 'dim_revenue_customer_contacts'), ('reporting', 'rpt_customer_contacts')]) }}
{% endmacro %}

{% macro access_after_build() %}
    {%- if execute and target.type == 'postgres' -%}
        do $$ begin
            if to_regnamespace('access') is not null and has_schema_privilege('access', 'usage') then
                if to_regprocedure('access.after_build(text, text)') is not null then
                    perform access.after_build({{ dbt.string_literal(this.schema) }}, {{ dbt.string_literal(this.identifier) }});
                end if;
            end if;
        end $$
    {%- endif -%}
{% endmacro %}

{% macro drop_personal_data_models() %}
    {%- if execute and target.type == 'postgres' and not include_personal_data() -%}
        {%- for schema, name in personal_data_models() %}
            drop table if exists {{ adapter.quote(target.database) }}.{{ schema }}.{{ name }};
        {%- endfor %}
    {%- endif -%}
{% endmacro %}

{% macro audit_actor() %}
    {{ return(env_var('EXECMETRICS_ACTOR', '') or env_var('USER', '') or env_var('LOGNAME', '') or 'dbt') }}
{% endmacro %}

{% macro audit_config_changes() %}
    {%- if execute and target.type == 'postgres' -%}
        {%- set seeds = [] -%}
        {%- for node in graph.nodes.values() | sort(attribute='name') if node.resource_type == 'seed' -%}
            {%- do seeds.append(node) -%}
        {%- endfor -%}
        {%- if seeds -%}
        do $$ begin
            if to_regnamespace('audit') is not null and has_schema_privilege('audit', 'usage') then
            if to_regprocedure('audit.record_config(text, jsonb, text)') is not null then
            {%- for node in seeds %}
                {%- set relation = node.schema ~ '.' ~ (node.alias or node.name) %}
                if to_regclass({{ dbt.string_literal(relation) }}) is not null then
                    perform audit.record_config(
                        {{ dbt.string_literal(relation) }},
                        (select coalesce(jsonb_agg(to_jsonb(s) order by to_jsonb(s)::text), '[]'::jsonb)
                         from {{ relation }} as s),
                        {{ dbt.string_literal(audit_actor()) }}
                    );
                end if;
            {%- endfor %}
            end if;
            end if;
        end $$
        {%- endif -%}
    {%- endif -%}
{% endmacro %}
