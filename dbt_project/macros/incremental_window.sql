{#-
    The window a run builds (inclusive local days): var('min_date') / var('max_date') when set (an analyst's
    `--vars`, a unit test), else the environment variables EXECMETRICS_MIN_DATE / EXECMETRICS_MAX_DATE, which is how
    Dagster passes each run's partitions. With neither, a run builds everything (a full build) or, incrementally,
    from the last day built.

    Why the environment: dbt hashes `--vars` into its partial-parse check, so a window passed as vars makes every
    run re-parse the whole project. The environment variables are read only while executing (`execute`), never
    while parsing, so dbt does not record them against any file and a new window keeps the saved parse. A unit
    test never reads them: its window is the vars it pins.
-#}

{#- the window's first / last day as SQL date literals, or none when unset -#}
{% macro window_min_date() -%}
    {{ return(window_date_literal(window_bound('min_date', 'EXECMETRICS_MIN_DATE'))) }}
{%- endmacro %}

{% macro window_max_date() -%}
    {{ return(window_date_literal(window_bound('max_date', 'EXECMETRICS_MAX_DATE'))) }}
{%- endmacro %}

{% macro window_bound(var_name, env_name) -%}
    {%- set value = var(var_name) -%}
    {#- a unit test's window is what it pins in its vars, whatever the environment -#}
    {%- set in_unit_test = model is mapping and model.get('resource_type') == 'unit_test' -%}
    {%- if (value is none or value | string | trim in ('', 'None', 'null')) and execute and not in_unit_test -%}
        {%- set value = env_var(env_name, '') -%}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}

{% macro window_date_literal(value) -%}
    {%- if value is none or value | string | trim in ('', 'None', 'null') -%}{{ return(none) }}{%- endif -%}
    {%- set text = value | string | trim -%}
    {%- if not (text | length == 10 and text[4] == '-' and text[7] == '-' and text.replace('-', '').isdigit()) -%}
        {{ exceptions.raise_compiler_error("the window's min_date / max_date must be a date (YYYY-MM-DD), got '" ~ text ~ "'") }}
    {%- endif -%}
    {{ return("date '" ~ text ~ "'") }}
{%- endmacro %}

{#-
    The first day an incremental model (re)builds, as a SQL date expression: min_date - margin_days when a window
    is passed; on an incremental run without one, the last day already built (`date_column` of this model) -
    margin_days; none (no lower bound) on a full build without a window. margin_days re-reads late rows.
    A model whose full build must ignore the window (history that later windows read) calls it only when
    is_incremental().
-#}
{% macro incremental_window_start(date_column, margin_days=0) -%}
    {%- set min_date = window_min_date() -%}
    {%- if min_date is not none -%}
        {{ return("(" ~ min_date ~ " - " ~ (margin_days | int) ~ ")") }}
    {%- elif is_incremental() -%}
        {%- set latest = '1900-01-01' -%}
        {%- if execute -%}
            {%- set result = run_query(
                "select coalesce(max(" ~ date_column ~ "), date '1900-01-01')::" ~ text_type() ~ " from " ~ this) -%}
            {%- set latest = result.columns[0].values()[0] -%}
        {%- endif -%}
        {{ return("(date '" ~ latest ~ "' - " ~ (margin_days | int) ~ ")") }}
    {%- else -%}
        {{ return(none) }}
    {%- endif -%}
{%- endmacro %}
