{#-
    One row per (user, local day) with at least one event: the compact activity fact that every rolling
    count (DAU/WAU/MAU, stickiness, activation, retention) is computed from, so no mart rescans raw events.
    Incremental by local day: a run re-reads its own days from raw events (index on occurred_at), and before them
    the days loads of events touched since its last build, at most lookback_days before (late_rows_start), and
    replaces those days. Every event with a user counts; who is counted (staff, deleted, internal tenants) is
    decided downstream against int_users_classified, so it is applied consistently.
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy=replace_keys_strategy(),
        partition_by=replace_keys_partition_by('activity_date'),
        unique_key='activity_date',
        indexes=[{'columns': ['activity_date']}, {'columns': ['user_id']}],
        on_schema_change='fail',
        post_hook="{{ late_rows_built() }}",
    )
}}

{#- a full build reads all history, whatever the window: later windows' rolling counts read it -#}
{%- set rebuild_from = late_rows_start('activity_date', 'events', product_last_date()) %}
{%- set activation_events = var('activation_events') %}

with

events as (

    select * from {{ ref('stg_app__events') }}
    where
        user_id is not null
        and occurred_at < {{ reporting_day_start(product_last_date() ~ ' + 1') }}
        {%- if rebuild_from is not none %}
            and occurred_at >= {{ reporting_day_start(rebuild_from) }}
        {%- endif %}

),

localized as (

    select
        user_id,
        tenant_id,
        event_type,
        occurred_at,
        {{ reporting_date('occurred_at') }} as activity_date

    from events

),

daily as (

    select
        user_id,
        activity_date,
        min(tenant_id) as tenant_id,
        count(*)::integer as events,
        count(*) filter (where event_type = 'login')::integer as logins,
        count(*) filter (where event_type = 'file_upload')::integer as file_uploads,
        count(*) filter (where event_type = 'worklog_created')::integer as worklogs_created,
        count(*) filter (where event_type = 'report_generated')::integer as reports_generated,
        count(*) filter (where event_type = 'invite_sent')::integer as invites_sent,
        count(*) filter (
            where event_type in ({% for e in activation_events %}'{{ e }}'{% if not loop.last %}, {% endif %}{% endfor %})
        )::integer as activation_events,
        min(occurred_at) as first_event_at,
        max(occurred_at) as last_event_at

    from localized
    group by user_id, activity_date

),

final as (

    select * from daily

)

select * from final
