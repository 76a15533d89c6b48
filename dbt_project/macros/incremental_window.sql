{#-
    The window a run builds. Dagster passes each run's partitions as var('min_date') / var('max_date') (inclusive
    local days); with neither, a run builds everything (a full build) or, incrementally, from the last day built.
-#}

{#- var('min_date') / var('max_date') as SQL date literals, or none when unset -#}
{% macro window_min_date() -%}
    {{ return(window_date_literal(var('min_date'))) }}
{%- endmacro %}

{% macro window_max_date() -%}
    {{ return(window_date_literal(var('max_date'))) }}
{%- endmacro %}

{% macro window_date_literal(value) -%}
    {%- if value is none or value | string | trim in ('', 'None', 'null') -%}{{ return(none) }}{%- endif -%}
    {{ return("date '" ~ (value | string | trim) ~ "'") }}
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
                "select coalesce(max(" ~ date_column ~ "), date '1900-01-01')::text from " ~ this) -%}
            {%- set latest = result.columns[0].values()[0] -%}
        {%- endif -%}
        {{ return("(date '" ~ latest ~ "' - " ~ (margin_days | int) ~ ")") }}
    {%- else -%}
        {{ return(none) }}
    {%- endif -%}
{%- endmacro %}
