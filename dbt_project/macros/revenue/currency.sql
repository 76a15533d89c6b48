{#- Unix seconds (Stripe) → timestamptz. -#}
{% macro stripe_ts(expr) %}{{ epoch_to_timestamp(expr) }}{% endmacro %}

{#- Months per billing interval: day, week, month, year × interval_count, as a numeric expression. -#}
{% macro interval_months(interval_expr, count_expr) -%}
    (case {{ interval_expr }}
        when 'day' then 12.0 / 365.0
        when 'week' then 12.0 / 52.0
        when 'month' then 1.0
        when 'year' then 12.0
    end * greatest(coalesce({{ count_expr }}, 1), 1))
{%- endmacro %}

{#- Minor units → major units with the ISO 4217 exponent from the currencies seed. -#}
{% macro minor_to_major(amount_expr, exponent_expr) -%}
    (({{ amount_expr }})::{{ numeric_type() }} / power(10::{{ numeric_type() }}, {{ exponent_expr }}))
{%- endmacro %}

{#- The revenue as-of day: max_date when a window is passed, else today (in the reporting timezone). -#}
{% macro revenue_as_of_date() -%}
    {{ window_max_date() or reporting_date('now()') }}
{%- endmacro %}

{#- Latest version of every Stripe object id: the greatest _seq (docs/ARCHITECTURE.md, raw tables).

    On Postgres, two things keep it linear in the objects (docs/PERFORMANCE.md, "Stripe's latest versions"):
    - `distinct on`, whose rows the planner estimates from the ids' statistics (every id once). A filter on a
      ranking (`row_number() ... = 1`) was estimated at half a percent of the versions, and a join of two latest
      versions (a charge's invoice) became a nested loop: charges x invoices, the square of the history.
    - the latest version's payload read from its TOAST storage once (`|| '{}'` returns it whole), not once per
      field the staging model takes from it: an invoice's payload (about 2.5 kB compressed) was fetched and
      decompressed for each of its 23 fields. The versions are sorted with their payloads still in storage.
    The columns are raw's Stripe columns (extract/tables.py, stripe_table_ddl). -#}
{% macro stripe_latest(table_name) -%}
    {#- branched on the engine here, not dispatched: the linter's stand-in for adapter.dispatch renders a whole
        statement as its arguments -#}
    {%- if target.type == 'spark' %}
    select ranked.*
    from (
        select
            src.*,
            row_number() over (
                partition by src.id
                order by src._seq desc
            ) as _version_rank
        from {{ source('stripe', table_name) }} as src
    ) as ranked
    where ranked._version_rank = 1
    {%- else %}
    select
        latest._seq,
        latest.id,
        latest.created,
        latest.payload || '{}'::jsonb as payload,
        latest.payload_hash,
        latest.is_deleted,
        latest._batch_id,
        latest._extracted_at
    from (
        select distinct on (src.id) src.*
        from {{ source('stripe', table_name) }} as src
        order by src.id, src._seq desc
    ) as latest
    offset 0  -- not merged into the model's query, which would repeat the expression (and the read) in every field
    {%- endif %}
{%- endmacro %}

{#- First day an incremental run of the MRR ledger rebuilds (only call inside is_incremental()): the run's window with
    lookback_days, as a literal, so the pre-hook's delete and the model's insert agree on it. When the table was built
    under another policy or reporting currency, the whole ledger is rebuilt (a change never leaves a mixed ledger). -#}
{% macro mrr_daily_window_start() -%}
    {%- set policy_changed = false -%}
    {%- if execute -%}
        {%- set result = run_query(
            "select coalesce(bool_or(policy <> '" ~ policy_label() ~ "' or reporting_currency <> '"
            ~ var('reporting_currency') ~ "'), false) from " ~ this) -%}
        {%- set policy_changed = result.columns[0].values()[0] -%}
    {%- endif -%}
    {%- if policy_changed -%}
        (date '1900-01-01')
    {%- else -%}
        {{ incremental_window_start('day', var('lookback_days')) }}
    {%- endif -%}
{%- endmacro %}

{#- The config of the ledger's incremental models (int_mrr_customer_days, fct_mrr_daily): appended after a pre-hook
    deletes the days the run rebuilds (a day whose rows disappear is deleted too). Spark's Parquet tables cannot
    delete rows: there the table is partitioned by day and a run overwrites the days it builds (replace_keys_strategy),
    so a day left with no rows at all keeps its old ones until a full refresh. -#}
{% macro mrr_ledger_config() -%}
    {%- if replace_keys_strategy() == 'insert_overwrite' -%}
        {{ return({
            'materialized': 'incremental',
            'incremental_strategy': 'insert_overwrite',
            'partition_by': replace_keys_partition_by('day'),
            'on_schema_change': 'fail',
        }) }}
    {%- endif -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'append',
        'on_schema_change': 'fail',
        'pre_hook': [
            "{% if is_incremental() %}delete from {{ this }} where day >= {{ mrr_daily_window_start() }}{% endif %}",
        ],
    }) }}
{%- endmacro %}

{#- An amount in minor units of `currency_expr` → reporting-currency major units at the rate valid on `date_expr`. -#}
{% macro to_reporting(amount_expr, currency_expr, date_expr) -%}
    (
        ({{ amount_expr }})::{{ numeric_type() }}
        / power(10::{{ numeric_type() }}, (
            select cur.minor_unit_exponent from {{ ref('currencies') }} as cur
            where cur.currency_code = {{ currency_expr }}
        ))
        * (
            select fx.usd_per_unit from {{ ref('fx_rates') }} as fx
            where fx.currency_code = {{ currency_expr }} and fx.rate_date <= {{ date_expr }}
            order by fx.rate_date desc limit 1
        )
        / (
            select fx.usd_per_unit from {{ ref('fx_rates') }} as fx
            where fx.currency_code = '{{ var("reporting_currency") }}' and fx.rate_date <= {{ date_expr }}
            order by fx.rate_date desc limit 1
        )
    )
{%- endmacro %}
