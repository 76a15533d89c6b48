"""Asset checks: Great Expectations suites on the raw tables (blocking), freshness checks on raw and mart assets.

dbt tests are asset checks too; dagster-dbt defines them with the dbt assets (see orchestration/assets/dbt.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster import (
    AssetCheckKey,
    AssetsDefinition,
    Definitions,
    build_sensor_for_freshness_checks,
    build_time_partition_freshness_checks,
)

from orchestration.assets import dbt_keys
from orchestration.assets.extract import RAW_KEYS

MONTHLY_DEADLINE_CRON = "0 6 1 * *"  # last month's partition by 06:00 on the 1st (the monthly job starts at 02:00)


def daily_deadline_cron(marts_due_by: int) -> str:
    """Yesterday's partition is expected by MARTS_DUE_BY o'clock (default 04:00; the daily job starts at 01:00)."""
    return f"0 {marts_due_by} * * *"


def freshness_checks(timezone: str, marts_due_by: int, dbt_assets: Mapping[str, AssetsDefinition]) -> list:
    daily = [*RAW_KEYS, *(key for key in dbt_keys(dbt_assets, "dbt_daily") if key.path[0] == "marts")]
    deadline = daily_deadline_cron(marts_due_by)
    checks = list(build_time_partition_freshness_checks(assets=daily, deadline_cron=deadline, timezone=timezone))
    monthly = [key for key in dbt_keys(dbt_assets, "dbt_monthly") if key.path[0] == "marts"]
    if monthly:
        checks += build_time_partition_freshness_checks(
            assets=monthly, deadline_cron=MONTHLY_DEADLINE_CRON, timezone=timezone
        )
    return checks


def freshness_check_keys(checks: list) -> list[AssetCheckKey]:
    return [key for definition in checks for key in definition.check_keys]


def checks_definitions(freshness: list, daily_partitions: Any) -> Definitions:
    from orchestration.checks.ge import build_ge_checks

    return Definitions(
        asset_checks=[*build_ge_checks(daily_partitions), *freshness],
        sensors=[build_sensor_for_freshness_checks(freshness_checks=freshness, name="freshness_checks_sensor")],
    )
