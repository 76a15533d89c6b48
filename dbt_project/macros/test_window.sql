{#-
    Data tests that check only the days a run builds: a test's `where` config may name `__window_start__`, e.g.
    `where: "occurred_at >= __window_start__"`. While executing, it becomes the window's first day less
    lookback_days (the days the incremental models re-read); without a window (an analyst's `dbt build`, CI) the
    condition is dropped and the test reads every row. Without it, every daily run would test the whole history of
    the largest tables (every event and API request ever loaded) to build one day.
    This overrides dbt's own get_where_subquery, which applies a test's `where` config.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where and '__window_start__' in where -%}
        {%- set window_start = window_min_date() -%}
        {%- if window_start is none -%}
            {%- set where = '' -%}
        {%- else -%}
            {%- set where = where | replace(
                '__window_start__', '(' ~ window_start ~ ' - ' ~ (var('lookback_days') | int) ~ ')') -%}
        {%- endif -%}
    {%- endif -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- else -%}
        {{ return(relation) }}
    {%- endif -%}
{%- endmacro %}
