"""The Dagster definitions load with the expected assets, checks, jobs and schedules; partition helpers are pure."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from dagster import AssetCheckKey, AssetKey, EnvVar
from dagster._core.definitions.backfill_policy import BackfillPolicyType

from orchestration.partitions import (
    chunk_days,
    day_keys,
    dbt_vars_for_window,
    dbt_window_env,
    month_keys,
    previous_day,
    previous_month,
)


def test_dbt_vars_are_inclusive_dates() -> None:
    start = datetime(2025, 11, 3, tzinfo=UTC)
    assert dbt_vars_for_window(start, datetime(2025, 11, 4, tzinfo=UTC)) == {
        "min_date": "2025-11-03",
        "max_date": "2025-11-03",
    }
    assert dbt_vars_for_window(date(2025, 11, 1), date(2025, 12, 1)) == {
        "min_date": "2025-11-01",
        "max_date": "2025-11-30",
    }
    with pytest.raises(ValueError):
        dbt_vars_for_window(start, start)
    assert dbt_window_env(date(2025, 11, 1), date(2025, 12, 1)) == {
        "EXECMETRICS_MIN_DATE": "2025-11-01",
        "EXECMETRICS_MAX_DATE": "2025-11-30",
    }


def test_keys_months_and_chunks() -> None:
    assert day_keys(date(2025, 12, 30), date(2026, 1, 2)) == ["2025-12-30", "2025-12-31", "2026-01-01", "2026-01-02"]
    assert month_keys(date(2025, 11, 15), date(2026, 1, 2)) == ["2025-11-01", "2025-12-01", "2026-01-01"]
    assert chunk_days(date(2025, 1, 1), date(2025, 1, 10), 4) == [
        (date(2025, 1, 1), date(2025, 1, 4)),
        (date(2025, 1, 5), date(2025, 1, 8)),
        (date(2025, 1, 9), date(2025, 1, 10)),
    ]
    assert chunk_days(date(2025, 1, 1), date(2025, 12, 31), None) == [(date(2025, 1, 1), date(2025, 12, 31))]


def test_schedule_partitions_use_the_reporting_timezone() -> None:
    # 00:30 UTC on 1 March is still 28 February in New York: yesterday there is 27 February.
    now = datetime(2026, 3, 1, 0, 30, tzinfo=UTC)
    assert previous_day(now, "UTC") == date(2026, 2, 28)
    assert previous_day(now, "America/New_York") == date(2026, 2, 27)
    assert previous_month(now, "UTC") == date(2026, 2, 1)
    assert previous_month(now, "America/New_York") == date(2026, 1, 1)


def test_definitions_load(definitions_env) -> None:  # noqa: ANN001
    from orchestration.definitions import build_definitions, defs

    definitions = build_definitions(definitions_env.settings)
    repo = definitions.get_repository_def()
    graph = repo.asset_graph
    keys = set(graph.get_all_asset_keys())
    for table in ("app_tenants", "app_events", "app_api_requests", "stripe_invoices", "stripe_subscriptions"):
        assert AssetKey(["raw", table]) in keys
    assert AssetKey(["marts", "fct_daily_metrics"]) in keys
    assert AssetKey(["staging", "stg_app__events"]) in keys

    # dbt sources are the extract assets: staging hangs off raw/<table>
    assert AssetKey(["raw", "app_events"]) in graph.get(AssetKey(["staging", "stg_app__events"])).parent_keys

    # partitions: raw + daily models daily, revenue monthly marts monthly, single-run backfills
    daily = graph.get(AssetKey(["marts", "fct_daily_metrics"]))
    assert type(daily.partitions_def).__name__ == "DailyPartitionsDefinition"
    assert daily.backfill_policy.policy_type == BackfillPolicyType.SINGLE_RUN
    raw_events = graph.get(AssetKey(["raw", "app_events"]))
    assert raw_events.partitions_def == daily.partitions_def
    assert raw_events.partitions_def.get_first_partition_key() == "2025-11-01"
    monthly_keys = [
        key
        for key in keys
        if graph.get(key).partitions_def is not None
        and type(graph.get(key).partitions_def).__name__ == "MonthlyPartitionsDefinition"
    ]
    assert AssetKey(["marts", "fct_revenue_monthly"]) in monthly_keys

    # checks: GE (blocking errors + warnings) on every raw table, dbt tests, freshness
    check_keys = set(graph.asset_check_keys)
    errors = AssetCheckKey(AssetKey(["raw", "app_events"]), "ge_errors")
    assert errors in check_keys
    assert AssetCheckKey(AssetKey(["raw", "app_events"]), "ge_warnings") in check_keys
    spec = (
        next(s for checks in repo.asset_checks_defs_by_key.values() for s in checks.check_specs if s.key == errors)
        if hasattr(repo, "asset_checks_defs_by_key")
        else None
    )
    if spec is not None:
        assert spec.blocking
    assert any(key.name.startswith("freshness_check") for key in check_keys)
    assert any(key.asset_key.path[0] == "marts" and "unique" in key.name for key in check_keys), "dbt tests as checks"

    # jobs and schedules; every run (a job's, or an asset materialized from the UI) executes its steps in its own
    # process, not a process per step that loads the code location again
    assert {"daily_job", "monthly_job"} <= {job.name for job in repo.get_all_jobs()}
    for job in repo.get_all_jobs():
        assert job.executor_def.name == "in_process", job.name
    schedules = {s.name: s for s in repo.schedule_defs}
    assert schedules["daily_schedule"].cron_schedule == "0 1 * * *"
    assert schedules["daily_schedule"].execution_timezone == "UTC"
    assert schedules["monthly_schedule"].cron_schedule == "0 2 1 * *"
    assert "freshness_checks_sensor" in {s.name for s in repo.sensor_defs}
    # delivery: the alerts after the daily models, the weekly board pack, pipeline health and held alerts
    assert {"alert_delivery_job", "board_pack_job"} <= {job.name for job in repo.get_all_jobs()}
    assert schedules["board_pack_schedule"].cron_schedule == "0 8 * * 1"
    assert schedules["board_pack_schedule"].execution_timezone == "UTC"
    assert {"pipeline_failure_sensor", "marts_late_sensor", "held_alerts_sensor"} <= {s.name for s in repo.sensor_defs}
    delivery = graph.get(AssetKey(["alerts", "alert_deliveries"]))
    assert AssetKey(["reporting", "rpt_alerts"]) in delivery.parent_keys
    assert delivery.partitions_def == daily.partitions_def

    # resources carry their configuration as fields: what the environment gave as its variable's name
    resources = definitions.resources or {}
    assert resources["warehouse"].warehouse_url == EnvVar("WAREHOUSE_URL")
    assert resources["app_source"].app_source_dir == EnvVar("APP_SOURCE_DIR")
    assert resources["stripe_source"].stripe_dump_dir == EnvVar("STRIPE_DUMP_DIR")
    assert resources["raw_checks"].company_founded_date == EnvVar("COMPANY_FOUNDED_DATE")
    assert resources["warehouse"].warehouse_role_prefix == definitions_env.settings.warehouse_role_prefix  # a default

    # the lazily loaded code location (what dagster-webserver loads) is the same
    assert type(defs).__name__ in ("LazyDefinitions", "Definitions")


def test_resources_take_handed_over_settings_as_values(definitions_env, tmp_path) -> None:  # noqa: ANN001
    """Settings an entry point hands over (the demo's sources) reach the resources as values, not through the
    environment, and a run rebuilds the same settings from the fields alone."""
    from extract.settings import Settings
    from orchestration.resources import AppSourceResource, StripeSourceResource, WarehouseResource

    handed = definitions_env.settings.model_copy(update={"app_source_dir": tmp_path, "stripe_dump_dir": tmp_path / "s"})
    app_source = AppSourceResource.from_settings(handed)
    assert app_source.app_source_dir == str(tmp_path)
    assert app_source.spec() == str(tmp_path)
    assert StripeSourceResource.from_settings(handed).settings().stripe_dump_dir == tmp_path / "s"
    warehouse = WarehouseResource.from_settings(
        definitions_env.settings
    )  # WAREHOUSE_URL from the environment: an EnvVar
    assert warehouse.process_config_and_initialize().settings() == Settings.model_validate(
        {name: getattr(definitions_env.settings, name) for name in WarehouseResource.model_fields}
    )


def test_daily_schedule_targets_yesterday(definitions_env) -> None:  # noqa: ANN001
    from dagster import build_schedule_context

    from orchestration.definitions import build_definitions

    repo = build_definitions(definitions_env.settings).get_repository_def()
    schedule = next(s for s in repo.schedule_defs if s.name == "daily_schedule")
    context = build_schedule_context(
        scheduled_execution_time=datetime(2025, 11, 5, 1, 0, tzinfo=UTC), repository_def=repo
    )
    [request] = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2025-11-04"
    monthly = next(s for s in repo.schedule_defs if s.name == "monthly_schedule")
    context = build_schedule_context(
        scheduled_execution_time=datetime(2025, 12, 1, 2, 0, tzinfo=UTC), repository_def=repo
    )
    [request] = monthly.evaluate_tick(context).run_requests
    assert request.partition_key == "2025-11-01"
