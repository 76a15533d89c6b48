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
    cross join lateral posexplode(from_json({{ array_expr }}, 'array<string>')) as {{ alias }}(position, value)
{%- endmacro %}

{% macro json_element_number(alias) %}{{ return(adapter.dispatch('json_element_number')(alias)) }}{% endmacro %}
{% macro default__json_element_number(alias) %}{{ alias }}.ordinality{% endmacro %}
{% macro spark__json_element_number(alias) %}({{ alias }}.position + 1){% endmacro %}

{#- A Postgres type name as Spark spells it: the seeds' column_types and the model contracts' data_type are written
    in Postgres's names (numeric(p, s) is Spark's decimal(p, s); integer, bigint, boolean, date are the same). -#}
{% macro spark_type_name(type_name) -%}
    {%- set names = {'text': text_type(), 'timestamptz': timestamptz_type(), 'timestamp with time zone': timestamptz_type(),
                     'numeric': numeric_type(), 'jsonb': json_type(), 'double precision': double_type()} -%}
    {%- set key = type_name | lower | trim -%}
    {%- if key.startswith('numeric(') -%}
        {{- return('decimal' ~ key[7:] | replace(' ', '')) -}}
    {%- endif -%}
    {{- return(names.get(key, type_name)) -}}
{%- endmacro %}

{#- dbt's cast (which checks a model contract: each declared data_type is cast to and compared with what the model
    gives) with the Postgres type name translated by spark_type_name. -#}
{% macro spark__cast(field, type) %}cast({{ field }} as {{ spark_type_name(type) }}){% endmacro %}

{#- dbt-spark's seed table, with the seeds' column_types translated by spark_type_name. -#}
{% macro spark__create_csv_table(model, agate_table) %}
    {%- set overrides = model['config'].get('column_types', {}) -%}
    {%- set quote_columns = model['config'].get('quote_columns', None) -%}
    {%- set sql -%}
        create table {{ this.render() }} (
        {%- for name in agate_table.column_names %}
            {%- set type_name = spark_type_name(overrides[name]) if name in overrides
                else adapter.convert_type(agate_table, loop.index0) %}
            {{ adapter.quote_seed_column(name | string, quote_columns) }} {{ type_name }}{{ ',' if not loop.last }}
        {%- endfor %}
        )
        {{ file_format_clause() }}
        {{ partition_cols(label="partitioned by") }}
        {{ clustered_cols(label="clustered by") }}
        {{ location_clause() }}
        {{ comment_clause() }}
    {%- endset -%}
    {%- call statement('_') -%}{{ sql }}{%- endcall -%}
    {{ return(sql) }}
{% endmacro %}

{#- One row per element of a JSON array, the element itself named `alias` (no position). -#}
{% macro join_json_values(array_expr, alias) %}
    {{- return(adapter.dispatch('join_json_values')(array_expr, alias)) -}}
{% endmacro %}
{% macro default__join_json_values(array_expr, alias) -%}
    cross join lateral jsonb_array_elements({{ array_expr }}) as {{ alias }}
{%- endmacro %}
{% macro spark__join_json_values(array_expr, alias) -%}
    cross join lateral explode(from_json({{ array_expr }}, 'array<string>')) as {{ alias }}_values({{ alias }})
{%- endmacro %}

{#- Series. series(start, stop, alias, step) is a FROM item with one column `alias`: the integers start..stop, or
    with step ('day', 'month') the days or months from start to stop (Postgres gives timestamps there: cast the
    column to date). join_series is the same joined to each row of the FROM clause before it (its bounds may
    read that row). -#}
{% macro series(start, stop, alias, step=none) %}
    {{- return(adapter.dispatch('series')(start, stop, alias, step)) -}}
{% endmacro %}
{% macro default__series(start, stop, alias, step) -%}
    generate_series({{ start }}, {{ stop }}{% if step %}, interval '1 {{ step }}'{% endif %}) as {{ alias }}
{%- endmacro %}
{#- Spark's sequence counts down when stop < start (generate_series gives no rows): such a range gives none here. -#}
{% macro spark__series(start, stop, alias, step) -%}
    explode(case when {{ start }} <= {{ stop }} then sequence({{ start }}, {{ stop }}{% if step %}, interval 1 {{ step }}{% endif %}) end)
    as {{ alias }}_series({{ alias }})
{%- endmacro %}

{% macro join_series(start, stop, alias, step=none) -%}
    cross join lateral {{ series(start, stop, alias, step) }}
{%- endmacro %}

{#- The last day of the month that starts on the date `month_start_expr`. -#}
{% macro month_last_day(month_start_expr) %}{{ return(adapter.dispatch('month_last_day')(month_start_expr)) }}{% endmacro %}
{% macro default__month_last_day(month_start_expr) %}({{ month_start_expr }} + interval '1 month - 1 day')::date{% endmacro %}
{% macro spark__month_last_day(month_start_expr) %}last_day({{ month_start_expr }}){% endmacro %}

{#- Seconds from one timestamp to another (fractional). -#}
{% macro seconds_between(start_expr, end_expr) %}{{ return(adapter.dispatch('seconds_between')(start_expr, end_expr)) }}{% endmacro %}
{% macro default__seconds_between(start_expr, end_expr) %}extract(epoch from {{ end_expr }} - {{ start_expr }}){% endmacro %}
{% macro spark__seconds_between(start_expr, end_expr) -%}
    ((unix_micros({{ end_expr }}) - unix_micros({{ start_expr }})) / 1000000.0)
{%- endmacro %}

{#- An aggregate: `value` of the row with the greatest `order_expr` among the rows where `condition` holds. -#}
{% macro latest_value(value, order_expr, condition) %}
    {{- return(adapter.dispatch('latest_value')(value, order_expr, condition)) -}}
{% endmacro %}
{% macro default__latest_value(value, order_expr, condition) -%}
    (array_agg({{ value }} order by {{ order_expr }} desc) filter (where {{ condition }}))[1]
{%- endmacro %}
{% macro spark__latest_value(value, order_expr, condition) -%}
    max_by({{ value }}, {{ order_expr }}) filter (where {{ condition }})
{%- endmacro %}

{#- Incremental models that replace every row of the keys a run builds (a day, a tenant): Postgres deletes those
    keys and inserts (delete+insert on unique_key); Spark's Parquet tables cannot delete rows, so the table is
    partitioned by the key and a run overwrites the partitions it builds (insert_overwrite). -#}
{% macro replace_keys_strategy() %}{{ return(adapter.dispatch('replace_keys_strategy')()) }}{% endmacro %}
{% macro default__replace_keys_strategy() %}{{ return('delete+insert') }}{% endmacro %}
{% macro spark__replace_keys_strategy() %}{{ return('insert_overwrite') }}{% endmacro %}

{% macro replace_keys_partition_by(key) %}{{ return(adapter.dispatch('replace_keys_partition_by')(key)) }}{% endmacro %}
{% macro default__replace_keys_partition_by(key) %}{{ return(none) }}{% endmacro %}
{% macro spark__replace_keys_partition_by(key) %}{{ return(key) }}{% endmacro %}

{#- dbt-spark's seed rows, as escaped literals (a value with a quote in it loads as it is) cast to the seeds'
    column_types translated by spark_type_name. -#}
{% macro spark__load_csv_rows(model, agate_table) %}
    {%- set overrides = model['config'].get('column_types', {}) -%}
    {%- set types = [] -%}
    {%- for name in agate_table.column_names -%}
        {%- do types.append(spark_type_name(overrides[name]) if name in overrides
            else adapter.convert_type(agate_table, loop.index0)) -%}
    {%- endfor -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(get_batch_size()) -%}
        {%- set sql -%}
            insert into {{ this.render() }} values
            {%- for row in chunk %}
            ({%- for value in row -%}
                {%- if value is none -%}cast(null as {{ types[loop.index0] }})
                {%- else -%}cast('{{ value | string | replace("\\", "\\\\") | replace("'", "\\'") }}' as {{ types[loop.index0] }})
                {%- endif -%}{{ ', ' if not loop.last }}
            {%- endfor -%}){{ ',' if not loop.last }}
            {%- endfor %}
        {%- endset -%}
        {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
        {%- do statements.append(sql) if loop.first -%}
    {%- endfor -%}
    {{ return(statements[0]) }}
{% endmacro %}

{#- Whole days from one date to another (Postgres' date - date; Spark's is an interval). -#}
{% macro days_between(start_expr, end_expr) %}{{ return(adapter.dispatch('days_between')(start_expr, end_expr)) }}{% endmacro %}
{% macro default__days_between(start_expr, end_expr) %}({{ end_expr }} - {{ start_expr }}){% endmacro %}
{% macro spark__days_between(start_expr, end_expr) %}datediff({{ end_expr }}, {{ start_expr }}){% endmacro %}

{#- Integer division, truncated (Postgres' integer / integer; Spark's / always gives a fraction). -#}
{% macro int_div(numerator, denominator) %}{{ return(adapter.dispatch('int_div')(numerator, denominator)) }}{% endmacro %}
{% macro default__int_div(numerator, denominator) %}{{ numerator }} / {{ denominator }}{% endmacro %}
{% macro spark__int_div(numerator, denominator) %}{{ numerator }} div {{ denominator }}{% endmacro %}

{#- Whole months from one month start to another (both the first day of a month). -#}
{% macro months_between_starts(start_expr, end_expr) %}
    {{- return(adapter.dispatch('months_between_starts')(start_expr, end_expr)) -}}
{% endmacro %}
{% macro default__months_between_starts(start_expr, end_expr) -%}
    (
        extract(year from age({{ end_expr }}, {{ start_expr }})) * 12
        + extract(month from age({{ end_expr }}, {{ start_expr }}))
    )
{%- endmacro %}
{% macro spark__months_between_starts(start_expr, end_expr) -%}
    cast(months_between({{ end_expr }}, {{ start_expr }}) as int)
{%- endmacro %}

{#- A date `months_expr` whole months after `date_expr` (Postgres' date + n * interval '1 month', as a date). -#}
{% macro add_months(date_expr, months_expr) %}{{ return(adapter.dispatch('add_months')(date_expr, months_expr)) }}{% endmacro %}
{% macro default__add_months(date_expr, months_expr) %}({{ date_expr }} + {{ months_expr }} * interval '1 month')::date{% endmacro %}
{% macro spark__add_months(date_expr, months_expr) %}add_months({{ date_expr }}, {{ months_expr }}){% endmacro %}

{#- Written between a CTE's name and its body (`name as {{ materialized_cte() }} (`): a CTE computed once, its rows kept,
    where Postgres would otherwise merge it into the query that reads it and evaluate its expressions again wherever
    that query uses them (inside a window aggregate, once per row of every frame). Spark computes a CTE's expressions
    once per row either way. -#}
{% macro materialized_cte() %}{{ return(adapter.dispatch('materialized_cte')()) }}{% endmacro %}
{% macro default__materialized_cte() %}materialized{% endmacro %}
{% macro spark__materialized_cte() %}{% endmacro %}

{#- The non-null elements of an array built from a list of SQL expressions (Postgres array_remove(array[...], null)). -#}
{% macro compact_array(elements) %}{{ return(adapter.dispatch('compact_array')(elements)) }}{% endmacro %}
{% macro default__compact_array(elements) -%}
    array_remove(array[{{ elements | join(', ') }}], null)
{%- endmacro %}
{% macro spark__compact_array(elements) -%}
    filter(array({{ elements | join(', ') }}), element -> element is not null)
{%- endmacro %}

{#- The non-null values of `expr` over the window `window_name`, as an array: null when the window frame has no rows
    (Postgres array_agg's null), empty when it has rows but every value is null. -#}
{% macro window_values(expr, window_name) %}{{ return(adapter.dispatch('window_values')(expr, window_name)) }}{% endmacro %}
{% macro default__window_values(expr, window_name) -%}
    array_remove(array_agg({{ expr }}) over {{ window_name }}, null)
{%- endmacro %}
{% macro spark__window_values(expr, window_name) -%}
    (case when count(*) over {{ window_name }} > 0 then collect_list({{ expr }}) over {{ window_name }} end)
{%- endmacro %}

{#- A window's ORDER BY a date column and its frame: the rows from `from_days` to `to_days` days before the current
    row's day (both preceding, from_days >= to_days). -#}
{% macro order_by_days_preceding(date_column, from_days, to_days) %}
    {{- return(adapter.dispatch('order_by_days_preceding')(date_column, from_days, to_days)) -}}
{% endmacro %}
{% macro default__order_by_days_preceding(date_column, from_days, to_days) -%}
    order by {{ date_column }}
    range between interval '{{ from_days }} days' preceding and interval '{{ to_days }} {{ 'day' if to_days == 1 else 'days' }}' preceding
{%- endmacro %}
{% macro spark__order_by_days_preceding(date_column, from_days, to_days) -%}
    order by unix_date({{ date_column }})
    range between {{ from_days }} preceding and {{ to_days }} preceding
{%- endmacro %}

{#- Rows of constants or expressions over each row of the FROM clause it follows (Postgres' lateral VALUES list):
    `rows` is a list of rows, each a list of SQL expressions (one per column, a column's values of one type);
    the rows' columns are alias.<columns[i]>. -#}
{% macro join_rows(rows, alias, columns) %}{{ return(adapter.dispatch('join_rows')(rows, alias, columns)) }}{% endmacro %}
{% macro default__join_rows(rows, alias, columns) -%}
    cross join lateral (
        values
        {%- for row in rows %}
            ({{ row | join(', ') }}){% if not loop.last %},{% endif %}
        {%- endfor %}
    ) as {{ alias }} ({{ columns | join(', ') }})
{%- endmacro %}
{% macro spark__join_rows(rows, alias, columns) -%}
    cross join lateral stack(
        {{ rows | length }}
        {%- for row in rows %}, {{ row | join(', ') }}{% endfor %}
    ) as {{ alias }}({{ columns | join(', ') }})
{%- endmacro %}

{#- The number of elements of an array, null for a null array (Spark's cardinality gives -1 there). -#}
{% macro array_length(array_expr) %}{{ return(adapter.dispatch('array_length')(array_expr)) }}{% endmacro %}
{% macro default__array_length(array_expr) %}cardinality({{ array_expr }}){% endmacro %}
{% macro spark__array_length(array_expr) %}array_size({{ array_expr }}){% endmacro %}

{#- The median of a numeric array expression (null for an empty array). -#}
{% macro array_median(array_expr) -%}
    {{ return(adapter.dispatch('array_median')(array_expr)) }}
{%- endmacro %}

{% macro default__array_median(array_expr) -%}
    (select percentile_cont(0.5) within group (order by element.value) from unnest({{ array_expr }}) as element (value))
{%- endmacro %}

{#- Spark has no percentile over an array: the middle element (or the mean of the middle two) of the sorted non-null elements -#}
{% macro spark__array_median(array_expr) -%}
    {%- set values = "sort_array(filter(" ~ array_expr ~ ", element -> element is not null))" -%}
    (case
        when size({{ values }}) = 0 then null
        when size({{ values }}) % 2 = 1 then cast(element_at({{ values }}, cast((size({{ values }}) + 1) / 2 as int)) as double)
        else (cast(element_at({{ values }}, cast(size({{ values }}) / 2 as int)) as double)
            + cast(element_at({{ values }}, cast(size({{ values }}) / 2 as int) + 1) as double)) / 2
    end)
{%- endmacro %}

{#- Text from a template with %s placeholders and a list of SQL expressions for them (Postgres format; Spark
    format_string). A decimal is written with its type's scale (Postgres numeric's own, Spark's decimal(38, 12)); a
    null argument is '' in Postgres and 'null' in Spark: pass none. -#}
{% macro format_text(template, args) %}{{ return(adapter.dispatch('format_text')(template, args)) }}{% endmacro %}
{% macro default__format_text(template, args) -%}
    format(
        {{ template }},
        {{ args | join(', ') }}
    )
{%- endmacro %}
{#- Spark's %s writes a date as its day number: every argument goes in as its text. -#}
{% macro spark__format_text(template, args) -%}
    format_string(
        {{ template }}
        {%- for arg in args %},
        cast({{ arg }} as string)
        {%- endfor %}
    )
{%- endmacro %}
