{#-
    Late rows: the days an incremental model over one raw app table (events, api_requests or jobs) rebuilds before
    its own days.

    A run always rebuilds its own days: from min_date when a window is passed, else from the last day the model
    built. Before those it rebuilds only the days that loads of its table touched since the model last saw them
    (raw._batches: each load's window, and the transaction that committed it), and never more than lookback_days
    before its own first day (rows later than that wait for their own day's partition to run again, as before).
    A daily partition run, whose extract loaded its own day, so rebuilds that day alone.

    A load's days are built through the last day of the latest completed build that saw it committed, in the
    snapshot the build took as it worked out its days (so it read the load's rows): such a build rebuilt from the
    load's first day not yet built (or its own reach) through its own last day. Each build is recorded in
    `intermediate._late_row_builds` (created on-run-start): a row when its days are worked out (at compile), marked
    done by the model's post-hook (late_rows_built) in the model's transaction, so a build that fails counts for
    nothing. A full build is recorded too: it reads every load.

    On Spark, which registers only the raw tables the models declare as sources and has no transaction snapshots, a
    model rebuilds lookback_days before its own days, as every incremental model did before.
-#}

{#-
    The moments a load of each table can touch. An append-only table's rows (events, api_requests) lie in the load's
    window by their watermark, occurred_at. A job's version (loaded from the table's last watermark on, whatever the
    window) counts on the day the job was created and the day it ended (its finish, else its last update), both no
    later than its updated_at. A window left open is closed by the table's latest watermark value at or after its
    start (one index probe; later loads' rows make it later, which only keeps a load pending longer).
-#}
{% macro late_rows_watermark(raw_table) -%}
    {%- if raw_table == 'jobs' -%}{{ return('updated_at') }}
    {%- elif raw_table in ('events', 'api_requests') -%}{{ return('occurred_at') }}
    {%- else -%}
        {{ exceptions.raise_compiler_error("late_rows_start: no late-row rule for raw table '" ~ raw_table ~ "'") }}
    {%- endif -%}
{%- endmacro %}

{% macro late_rows_first_moment(raw_table, raw_schema) -%}
    {%- if raw_table == 'jobs' -%}
        (select min(least(jobs.created_at, coalesce(jobs.finished_at, jobs.updated_at)))
         from {{ raw_schema }}.app_jobs as jobs where jobs.updated_at >= batch.window_start)
    {%- else -%}
        batch.window_start
    {%- endif -%}
{%- endmacro %}

{% macro late_rows_last_moment(raw_table, raw_schema) -%}
    {%- set watermark = late_rows_watermark(raw_table) -%}
    coalesce(
        batch.window_end - interval '1 microsecond',
        (select max(loaded.{{ watermark }}) from {{ raw_schema }}.app_{{ raw_table }} as loaded
         where loaded.{{ watermark }} >= coalesce(batch.window_start, '-infinity'::timestamptz))
    )
{%- endmacro %}

{#-
    The first day this run of the model rebuilds (a SQL date expression), or none on a full build. `last_day` is
    the SQL date of the last day it builds. Records the build on Postgres, so call it once per model, also on a
    full build.
-#}
{% macro late_rows_start(date_column, raw_table, last_day) -%}
    {#- the raw schema, through a source every caller already depends on (product_last_date reads it) -#}
    {%- set raw_events = source('app', 'app_events') -%}
    {#- the run's own first day (min_date, or the last day built) and the furthest back it may reach -#}
    {%- set own = incremental_window_start(date_column) if is_incremental() else none -%}
    {%- set reach = "(" ~ own ~ " - " ~ (var('lookback_days') | int) ~ ")" if own is not none else none -%}
    {{ return(adapter.dispatch('late_rows_start')(own, reach, raw_table, raw_events, last_day)) }}
{%- endmacro %}

{% macro spark__late_rows_start(own, reach, raw_table, raw_events, last_day) -%}
    {{ return(reach) }}
{%- endmacro %}

{% macro default__late_rows_start(own, reach, raw_table, raw_events, last_day) -%}
    {%- set in_unit_test = model is mapping and model.get('resource_type') == 'unit_test' -%}
    {%- if not execute or in_unit_test -%}{{ return(reach) }}{%- endif -%}
    {%- set raw_schema = raw_events.schema -%}
    {%- set builds = late_rows_builds_table() -%}
    {#- the lookback, as before, and no build recorded: on a warehouse whose loads do not record their transaction yet
        (no extract since the upgrade that added raw._batches.xact), or without the table of builds (a command that
        runs no on-run-start hook, such as `dbt compile`, before any run) -#}
    {%- set ready = run_query(
        "select to_regclass('" ~ builds ~ "') is not null and exists (select from pg_attribute where attrelid = "
        ~ "to_regclass('" ~ raw_schema ~ "._batches') and attname = 'xact' and not attisdropped)"
    ).columns[0].values()[0] -%}
    {%- if not ready -%}{{ return(reach) }}{%- endif -%}
    {%- set first_of_pending -%}
        with
        {%- if reach is not none %}

        batch as (

            select
                batch.window_start,
                batch.xact,
                {{ late_rows_last_moment(raw_table, raw_schema) }} as last_moment

            from {{ raw_schema }}._batches as batch
            where
                batch.source = 'app'
                and batch.table_name = '{{ raw_table }}'
                and batch.rows_loaded > 0
                -- a window ends before its load does
                and coalesce(batch.window_end, batch.finished_at) > {{ reporting_day_start(reach) }}

        ),

        seen as (

            -- the last day a completed build that saw the load committed has built: every build that sees a load
            -- rebuilds from the load's first day not yet built (or its own reach) through its own last day
            select
                batch.window_start,
                {{ reporting_date('batch.last_moment') }} as last_day,
                (
                    select max(build.last_day) from {{ builds }} as build
                    where
                        build.model = '{{ this.identifier }}'
                        and build.done
                        and (batch.xact is null or pg_visible_in_snapshot(batch.xact, build.snapshot))
                ) as built_through

            from batch
            where batch.last_moment >= {{ reporting_day_start(reach) }}

        ),

        pending as (

            -- a load's days not yet built; one without a window start (a first or full load) reaches back as far
            -- as a run may
            select
                greatest(
                    coalesce(batch.built_through + 1, date '0001-01-01'),
                    coalesce({{ reporting_date(late_rows_first_moment(raw_table, raw_schema)) }}, date '0001-01-01')
                ) as first_day

            from seen as batch
            where batch.built_through is null or batch.built_through < batch.last_day

        ),
        {%- endif %}

        started as (

            insert into {{ builds }} (model, invocation_id, snapshot, last_day)
            values ('{{ this.identifier }}', '{{ invocation_id }}', pg_current_snapshot(), {{ last_day }})

        )

        {% if reach is none -%}
        select null::{{ text_type() }}  -- a full build reads every load
        {%- else -%}
        select
            greatest({{ reach }}, least({{ own }}, coalesce(min(pending.first_day), {{ own }})))::{{ text_type() }}
        from pending
        {%- endif %}
    {%- endset -%}
    {%- set first_day = run_query(first_of_pending).columns[0].values()[0] -%}
    {%- if first_day is none -%}{{ return(none) }}{%- endif -%}
    {{ return("date '" ~ first_day ~ "'") }}
{%- endmacro %}

{#- where the builds are recorded: beside the models that call late_rows_start (all in intermediate) -#}
{% macro late_rows_builds_table() -%}
    {{ return(generate_schema_name('intermediate', none) | trim ~ '._late_row_builds') }}
{%- endmacro %}

{#- on-run-start: the table of builds, created once per invocation before any model runs (not by models running
    side by side, whose concurrent `create table if not exists` could collide; two invocations starting together
    take turns on a lock). Builds recorded at compile that never completed (a failed build, `dbt compile`) are
    dropped after a week. -#}
{% macro late_rows_prepare() -%}
    {{ return(adapter.dispatch('late_rows_prepare')()) }}
{%- endmacro %}

{% macro spark__late_rows_prepare() -%}{%- endmacro %}

{% macro default__late_rows_prepare() -%}
    {#- in the schema dbt created for the selected models (or the grants did): a role that may not create schemas in
        the database (the transformer) still creates tables in its own; no such schema, no model that records -#}
    {%- set table = late_rows_builds_table() -%}
    {%- set schema, name = table.split('.') -%}
    select pg_advisory_lock(hashtext('execmetrics.late_row_builds'));
    do $$
    begin
        if to_regnamespace('{{ schema }}') is not null then
            create table if not exists {{ table }} (
                model text not null,
                invocation_id text not null,
                snapshot pg_snapshot not null,
                last_day date,  -- null: a build with no events at all
                started_at timestamptz not null default now(),
                done boolean not null default false
            );
            delete from {{ table }} where not done and started_at < now() - interval '7 days';
            -- with the warehouse's roles: to the transformer, as every model (macros/access.sql)
            if to_regnamespace('access') is not null and has_schema_privilege('access', 'usage')
               and to_regprocedure('access.after_build(text, text)') is not null then
                perform access.after_build('{{ schema }}', '{{ name }}');
            end if;
        end if;
    end $$;
    select pg_advisory_unlock(hashtext('execmetrics.late_row_builds'))
{%- endmacro %}

{#- the post-hook of a model that calls late_rows_start: its build, recorded at compile, is done -#}
{% macro late_rows_built() -%}
    {{ return(adapter.dispatch('late_rows_built')()) }}
{%- endmacro %}

{% macro spark__late_rows_built() -%}{%- endmacro %}

{% macro default__late_rows_built() -%}
    update {{ late_rows_builds_table() }} set done = true
    where model = '{{ this.identifier }}' and invocation_id = '{{ invocation_id }}'
{%- endmacro %}
