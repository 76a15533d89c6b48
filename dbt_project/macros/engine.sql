{#-
    SQL that differs between the engines the models build on: Postgres (the `warehouse` target) and Apache Spark
    (the `spark` target, dbt-spark). A model writes the call, never either engine's syntax; each macro dispatches to
    a `postgres__` / `default__` implementation and a `spark__` one (docs/ARCHITECTURE.md, "Engines").
-#}

{#- Type names for casts (`x::{{ text_type() }}`): Postgres' names, Spark's equivalents. -#}
{% macro text_type() %}{{ return(adapter.dispatch('text_type')()) }}{% endmacro %}
{% macro default__text_type() %}text{% endmacro %}
{% macro spark__text_type() %}string{% endmacro %}

{% macro timestamptz_type() %}{{ return(adapter.dispatch('timestamptz_type')()) }}{% endmacro %}
{% macro default__timestamptz_type() %}timestamptz{% endmacro %}
{#- Spark's TIMESTAMP is an instant shown in the session timezone (profiles.yml sets UTC), as timestamptz is. -#}
{% macro spark__timestamptz_type() %}timestamp{% endmacro %}

{% macro double_type() %}{{ return(adapter.dispatch('double_type')()) }}{% endmacro %}
{% macro default__double_type() %}double precision{% endmacro %}
{% macro spark__double_type() %}double{% endmacro %}

{#- Postgres' unconstrained numeric; Spark's bare DECIMAL would be decimal(10, 0), so it gets a scale. -#}
{% macro numeric_type() %}{{ return(adapter.dispatch('numeric_type')()) }}{% endmacro %}
{% macro default__numeric_type() %}numeric{% endmacro %}
{% macro spark__numeric_type() %}decimal(38, 12){% endmacro %}

{#- A JSON document: jsonb in Postgres, its text in Spark (the raw Parquet tables keep payloads as text). -#}
{% macro json_type() %}{{ return(adapter.dispatch('json_type')()) }}{% endmacro %}
{% macro default__json_type() %}jsonb{% endmacro %}
{% macro spark__json_type() %}string{% endmacro %}

{#- JSON access. json_text(doc, 'a', 'b') is the text at a.b (Postgres doc -> 'a' ->> 'b'); json_get is the JSON
    value there (doc -> 'a' -> 'b'). Keys are literals. -#}
{% macro json_text(doc) %}{{ return(adapter.dispatch('json_text')(doc, varargs)) }}{% endmacro %}
{% macro default__json_text(doc, path) -%}
    {{ doc }}{% for key in path %} {{ '->>' if loop.last else '->' }} '{{ key }}'{% endfor %}
{%- endmacro %}
{% macro spark__json_text(doc, path) -%}
    get_json_object({{ doc }}, '$.{{ path | join(".") }}')
{%- endmacro %}

{% macro json_get(doc) %}{{ return(adapter.dispatch('json_get')(doc, varargs)) }}{% endmacro %}
{% macro default__json_get(doc, path) -%}
    {{ doc }}{% for key in path %} -> '{{ key }}'{% endfor %}
{%- endmacro %}
{% macro spark__json_get(doc, path) -%}
    get_json_object({{ doc }}, '$.{{ path | join(".") }}')
{%- endmacro %}

{#- A Unix timestamp (seconds, any numeric or text expression) as a timestamp. -#}
{% macro epoch_to_timestamp(expr) %}{{ return(adapter.dispatch('epoch_to_timestamp')(expr)) }}{% endmacro %}
{% macro default__epoch_to_timestamp(expr) %}to_timestamp(({{ expr }})::bigint){% endmacro %}
{% macro spark__epoch_to_timestamp(expr) %}timestamp_seconds(cast({{ expr }} as bigint)){% endmacro %}

{#- Run on every invocation (dbt_project.yml on-run-start): on Spark, each raw source table is registered over the
    Parquet folder extract/parquet.py wrote (<SPARK_DIR>/raw/<table>); elsewhere, nothing. -#}
{% macro register_raw_parquet() %}{{ return(adapter.dispatch('register_raw_parquet')()) }}{% endmacro %}
{% macro default__register_raw_parquet() %}{% endmacro %}
{% macro spark__register_raw_parquet() %}
    {%- if execute -%}
        {%- set root = env_var('SPARK_DIR', '.warehouse/spark') -%}
        {%- set schemas = [] -%}
        {%- for source in graph.sources.values() if source.schema not in schemas -%}
            {%- do schemas.append(source.schema) -%}
        {%- endfor -%}
        {%- for schema in schemas -%}
            {%- do run_query('create database if not exists ' ~ schema) -%}
        {%- endfor -%}
        {%- for source in graph.sources.values() -%}
            {%- set name = source.schema ~ '.' ~ source.identifier -%}
            {%- do run_query('drop table if exists ' ~ name) -%}
            {%- do run_query("create table " ~ name ~ " using parquet location '" ~ root ~ "/" ~ source.schema
                ~ "/" ~ source.identifier ~ "'") -%}
        {%- endfor -%}
    {%- endif -%}
{% endmacro %}

{#- The JSON type of a value: 'object' and 'array' are what the models test for. Spark reads JSON as text, so it
    tells objects and arrays from everything else, and calls a missing value 'null' as it does a JSON null. -#}
{% macro json_typeof(expr) %}{{ return(adapter.dispatch('json_typeof')(expr)) }}{% endmacro %}
{% macro default__json_typeof(expr) %}jsonb_typeof({{ expr }}){% endmacro %}
{% macro spark__json_typeof(expr) -%}
    (case left(ltrim({{ expr }}), 1) when '{' then 'object' when '[' then 'array' else 'null' end)
{%- endmacro %}

{#- One row per element of a JSON array, joined to the rows of the FROM clause it follows: `alias.value` is the
    element (JSON), `{{ json_element_number(alias) }}` its position from 1. -#}
{% macro join_json_elements(array_expr, alias) %}
    {{- return(adapter.dispatch('join_json_elements')(array_expr, alias)) -}}
{% endmacro %}
{% macro default__join_json_elements(array_expr, alias) -%}
    cross join lateral jsonb_array_elements({{ array_expr }}) with ordinality as {{ alias }}
{%- endmacro %}
{% macro spark__join_json_elements(array_expr, alias) -%}
    lateral view posexplode(from_json({{ array_expr }}, 'array<string>')) {{ alias }} as position, value
{%- endmacro %}

{% macro json_element_number(alias) %}{{ return(adapter.dispatch('json_element_number')(alias)) }}{% endmacro %}
{% macro default__json_element_number(alias) %}{{ alias }}.ordinality{% endmacro %}
{% macro spark__json_element_number(alias) %}({{ alias }}.position + 1){% endmacro %}
