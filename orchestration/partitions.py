"""Partitions: daily for the extracts and the daily dbt models, monthly for the cohort and monthly revenue marts.

A "day" is a calendar day in the reporting timezone (`REPORTING_TIMEZONE`), so the partitions use that timezone.
The first partition is `PARTITIONS_START_DATE` (default 2025-11-01, the demo's first day). Both definitions end
with the current (still open) period, so today's / this month's partition exists and can be built intraday;
the schedules target the last *complete* period explicitly.

Everything here is pure (no I/O); the helpers that turn a partition window into dbt vars are unit-tested.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from dagster import DailyPartitionsDefinition, MonthlyPartitionsDefinition

from extract.settings import Settings

DEFAULT_PARTITIONS_START = date(2025, 11, 1)
DAY_FORMAT = "%Y-%m-%d"


def partitions_start(settings: Settings) -> date:
    return settings.partitions_start_date or DEFAULT_PARTITIONS_START


def reporting_timezone(settings: Settings) -> str:
    tz = settings.reporting_timezone or "UTC"
    ZoneInfo(tz)  # fail early on a bad name
    return tz


def daily_partitions(settings: Settings) -> DailyPartitionsDefinition:
    return DailyPartitionsDefinition(
        start_date=partitions_start(settings).strftime(DAY_FORMAT), timezone=reporting_timezone(settings), end_offset=1
    )


def monthly_partitions(settings: Settings) -> MonthlyPartitionsDefinition:
    start = partitions_start(settings).replace(day=1)
    return MonthlyPartitionsDefinition(
        start_date=start.strftime(DAY_FORMAT), timezone=reporting_timezone(settings), end_offset=1
    )


# ------------------------------------------------------------------------------------------------ pure helpers


def dbt_vars_for_window(start: datetime | date, end: datetime | date) -> dict[str, str]:
    """A partition time window [start, end) as dbt's inclusive `min_date` / `max_date` vars."""
    first = start.date() if isinstance(start, datetime) else start
    last_exclusive = end.date() if isinstance(end, datetime) else end
    last = last_exclusive - timedelta(days=1)
    if last < first:
        raise ValueError(f"empty partition window {start}..{end}")
    return {"min_date": first.isoformat(), "max_date": last.isoformat()}


# The environment variables the dbt project reads the window from (macros/incremental_window.sql), by var name.
WINDOW_ENV = {"min_date": "EXECMETRICS_MIN_DATE", "max_date": "EXECMETRICS_MAX_DATE"}


def dbt_window_env(start: datetime | date, end: datetime | date) -> dict[str, str]:
    """The window [start, end) as the environment a dbt run reads it from. Not `--vars`: dbt hashes those into its
    partial-parse check, so a new window each run would re-parse the whole project every time."""
    return {WINDOW_ENV[name]: value for name, value in dbt_vars_for_window(start, end).items()}


def day_keys(start: date, end: date) -> list[str]:
    """Daily partition keys start..end inclusive."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    return [(start + timedelta(days=offset)).strftime(DAY_FORMAT) for offset in range((end - start).days + 1)]


def month_keys(start: date, end: date) -> list[str]:
    """Monthly partition keys (first day of each month) of the months touching start..end inclusive."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    keys = []
    cursor = start.replace(day=1)
    while cursor <= end:
        keys.append(cursor.strftime(DAY_FORMAT))
        cursor = (cursor.replace(day=28) + timedelta(days=4)).replace(day=1)
    return keys


def chunk_days(start: date, end: date, chunk: int | None) -> list[tuple[date, date]]:
    """start..end split into inclusive chunks of `chunk` days (one chunk when chunk is falsy)."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    if not chunk or chunk <= 0:
        return [(start, end)]
    chunks = []
    cursor = start
    while cursor <= end:
        last = min(end, cursor + timedelta(days=chunk - 1))
        chunks.append((cursor, last))
        cursor = last + timedelta(days=1)
    return chunks


def previous_day(now: datetime, timezone: str) -> date:
    """Yesterday in the reporting timezone (the daily schedule's partition)."""
    return now.astimezone(ZoneInfo(timezone)).date() - timedelta(days=1)


def previous_month(now: datetime, timezone: str) -> date:
    """First day of last month in the reporting timezone (the monthly schedule's partition)."""
    first_of_this_month = now.astimezone(ZoneInfo(timezone)).date().replace(day=1)
    return (first_of_this_month - timedelta(days=1)).replace(day=1)


def backfill_policy(max_partitions_per_run: int):  # -> BackfillPolicy
    """Single run per backfill by default; BACKFILL_MAX_PARTITIONS_PER_RUN=N (a setting) chunks it into runs of N
    partitions."""
    from dagster import BackfillPolicy

    chunk = max_partitions_per_run
    return BackfillPolicy.multi_run(chunk) if chunk > 0 else BackfillPolicy.single_run()
