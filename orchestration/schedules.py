"""Schedules: the daily job at 01:00 in REPORTING_TIMEZONE for yesterday's partition; the monthly job on the 1st
at 02:00 for the previous month; the weekly board pack (BOARD_PACK_CRON, default Monday 08:00) for the last complete
week, skipped while the channels file has no board_pack recipients. All start RUNNING (the daemon must run:
`execmetrics ui`) and can be toggled in the UI (Automation → Schedules)."""

from __future__ import annotations

from pathlib import Path

from dagster import (
    DefaultScheduleStatus,
    Definitions,
    RunRequest,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)

from extract.settings import Settings
from orchestration.jobs import BOARD_PACK_JOB, DAILY_JOB, MONTHLY_JOB
from orchestration.partitions import DAY_FORMAT, partitions_start, previous_day, previous_month, reporting_timezone


def build_schedules(settings: Settings, has_monthly: bool) -> list:
    """The daily schedule (and the monthly one when the project has monthly models) in the reporting timezone, days
    before the first partition skipped; the weekly board pack on BOARD_PACK_CRON."""
    timezone, first_day = reporting_timezone(settings), partitions_start(settings)
    tz = timezone

    @schedule(
        name="daily_schedule",
        job_name=DAILY_JOB,
        cron_schedule="0 1 * * *",
        execution_timezone=tz,
        default_status=DefaultScheduleStatus.RUNNING,
        description=f"01:00 {tz}: yesterday's partition of the daily job",
    )
    def daily_schedule(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
        day = previous_day(context.scheduled_execution_time, tz)
        if day < first_day:
            return SkipReason(f"{day} is before the first partition {first_day}")
        key = day.strftime(DAY_FORMAT)
        return RunRequest(run_key=f"daily-{key}", partition_key=key)

    schedules = [daily_schedule]
    if has_monthly:

        @schedule(
            name="monthly_schedule",
            job_name=MONTHLY_JOB,
            cron_schedule="0 2 1 * *",
            execution_timezone=tz,
            default_status=DefaultScheduleStatus.RUNNING,
            description=f"02:00 {tz} on the 1st: last month's partition of the monthly job",
        )
        def monthly_schedule(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
            month = previous_month(context.scheduled_execution_time, tz)
            if month < first_day.replace(day=1):
                return SkipReason(f"{month:%Y-%m} is before the first partition {first_day}")
            key = month.strftime(DAY_FORMAT)
            return RunRequest(run_key=f"monthly-{key}", partition_key=key)

        schedules.append(monthly_schedule)
    schedules.append(board_pack_schedule(tz, settings.board_pack_cron, settings.alerts_config))
    return schedules


def board_pack_schedule(tz: str, cron: str, channels_file: Path):  # -> ScheduleDefinition

    @schedule(
        name="board_pack_schedule",
        job_name=BOARD_PACK_JOB,
        cron_schedule=cron,
        execution_timezone=tz,
        default_status=DefaultScheduleStatus.RUNNING,
        description=f"{cron} ({tz}): the board pack of the last complete week, emailed to the board_pack list",
    )
    def weekly_board_pack(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
        from dashboards.delivery.board_pack import last_full_week
        from dashboards.delivery.config import load_config

        if load_config(channels_file).board_pack is None:
            return SkipReason(f"no board_pack recipients in {channels_file}")
        week_end = last_full_week(context.scheduled_execution_time, tz)[1]
        return RunRequest(
            run_key=f"board-pack-{week_end:%Y-%m-%d}",
            run_config={"ops": {"send_weekly_board_pack": {"config": {"week_ending": week_end.isoformat()}}}},
            tags={"execmetrics/week_ending": week_end.isoformat()},
        )

    return weekly_board_pack


def schedules_definitions(settings: Settings, has_monthly: bool) -> Definitions:
    return Definitions(schedules=build_schedules(settings, has_monthly))
