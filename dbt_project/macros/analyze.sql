{#-
    Post-hook of every model on Postgres: a table or incremental model is analyzed as soon as it is built, so the
    models after it in the same run plan with its statistics. dbt starts the next model at once, and autovacuum
    analyzes a new table only on its next round; until then Postgres guesses. At scale 1 it took half of
    int_users_classified's 1.2M users for excluded (about 45,000 are), hashed int_daily_api's 11.25M requests of
    the day instead of them, and the parallel hash failed ("invalid DSA memory alloc request size";
    docs/PERFORMANCE.md, "Scale 1"). A sample of each table: 4.9 s for all 32 tables of the scale-1 warehouse.
    Views have no statistics of their own; Spark's tables are not analyzed here.
-#}
{% macro analyze_after_build() -%}
    {%- if execute and target.type == 'postgres' and model.config.materialized in ('table', 'incremental') -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}
