"""Asset checks: Great Expectations suites on the raw tables (blocking), freshness checks on raw and mart assets.

dbt tests are asset checks too; dagster-dbt defines them with the dbt assets (see orchestration/assets/dbt.py).
"""

from __future__ import annotations

from functools import lru_cache

from dagster import AssetCheckKey, Definitions, build_sensor_for_freshness_checks, build_time_partition_freshness_checks

from orchestration.assets import dbt_keys
from orchestration.assets.extract import RAW_KEYS
from orchestration.partitions import reporting_timezone

MONTHLY_DEADLINE_CRON = "0 6 1 * *"  # last month's partition by 06:00 on the 1st (the monthly job starts at 02:00)


def daily_deadline_cron() -> str:
    """Yesterday's partition is expected by MARTS_DUE_BY o'clock (default 04:00; the daily job starts at 01:00)."""
    from extract.settings import get_settings

    return f"0 {get_settings().marts_due_by} * * *"


@lru_cache(maxsize=1)
def freshness_checks() -> tuple:
    tz = reporting_timezone()
    daily = [*RAW_KEYS, *(key for key in dbt_keys("dbt_daily") if key.path[0] == "marts")]
    checks = list(build_time_partition_freshness_checks(assets=daily, deadline_cron=daily_deadline_cron(), timezone=tz))
    monthly = [key for key in dbt_keys("dbt_monthly") if key.path[0] == "marts"]
    if monthly:
        checks += build_time_partition_freshness_checks(
            assets=monthly, deadline_cron=MONTHLY_DEADLINE_CRON, timezone=tz
        )
    return tuple(checks)


def freshness_check_keys() -> list[AssetCheckKey]:
    return [key for definition in freshness_checks() for key in definition.check_keys]


@lru_cache(maxsize=1)
def ge_checks() -> tuple:
    from orchestration.checks.ge import build_ge_checks

    return tuple(build_ge_checks())


def reset_checks() -> None:
    freshness_checks.cache_clear()
    ge_checks.cache_clear()


def checks_definitions() -> Definitions:
    fresh = freshness_checks()
    return Definitions(
        asset_checks=[*ge_checks(), *fresh],
        sensors=[build_sensor_for_freshness_checks(freshness_checks=fresh, name="freshness_checks_sensor")],
    )
