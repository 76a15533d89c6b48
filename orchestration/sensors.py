"""Sensors that tell people: pipeline health to the data channel, and held alerts once quiet hours end.

- `pipeline_failure_sensor` (a run-failure sensor over every job of this code location): a failed run (a step
  error, a blocking data-quality check, a failed delivery) sends one message to `pipeline_health.channel` with the
  job, partition(s), the failing step(s) and their error, and the run's link. Once per incident: a retry or a
  re-execution of the same run (same root run) adds nothing.
- `marts_late_sensor`: past MARTS_DUE_BY o'clock (reporting timezone) with yesterday's partition of
  `marts/fct_daily_metrics` not materialized, one message per day, with the latest run of that partition if any.
  The time-partition freshness checks (orchestration/checks) show the same deadline in the UI.
- `held_alerts_sensor`: alerts held during a channel's quiet hours are sent by a run of `alert_delivery_job` for
  their day, launched once the quiet hours are over.

The state (what was notified) is in audit.pipeline_notifications, written as the transformer role (as the delivery
asset); every try is an event of the audit log (`delivery.pipeline`). A message that cannot be sent fails the
sensor's tick (visible under Automation), and the next tick tries again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dagster import (
    AssetKey,
    DefaultSensorStatus,
    Definitions,
    RunFailureSensorContext,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SkipReason,
    run_failure_sensor,
    sensor,
)

from extract.settings import Settings
from orchestration.assets.delivery import DELIVERY_ROLE
from orchestration.jobs import DAILY_JOB, DELIVERY_JOB

DAILY_MARTS_KEY = AssetKey(["marts", "fct_daily_metrics"])
ROOT_RUN_TAG = "dagster/root_run_id"
PARTITION_TAG = "dagster/partition"
RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")


class NotifyError(RuntimeError):
    pass


def dagster_url(config: Any, ui_port: int) -> str:
    return (config.links.dagster or f"http://127.0.0.1:{ui_port}").rstrip("/")


@dataclass
class Incident:
    key: str
    title: str
    text: str
    fields: tuple[tuple[str, str], ...]
    link: str
    run_id: str | None = None


def notify_incident(settings: Settings, incident: Incident, *, sender: Any = None, sleep: Any = None) -> str:
    """Send `incident` to the pipeline health channel of the settings' channels file once; returns what happened.
    Raises NotifyError on failure."""
    from dashboards.delivery import store
    from dashboards.delivery.config import load_config
    from dashboards.delivery.deliver import notify
    from dashboards.delivery.messages import Notice
    from extract.warehouse import Warehouse

    config = load_config(settings.alerts_config)
    if config.pipeline_health is None:
        return "no pipeline_health channel in the channels file"
    channel = config.pipeline_health.channel
    notice = Notice(
        kind="pipeline",
        title=incident.title,
        text=incident.text,
        severity="critical",
        fields=incident.fields,
        link=incident.link,
        link_label="Open in Dagster",
        data={"incident": incident.key, "run_id": incident.run_id, **{k.lower(): v for k, v in incident.fields}},
    )
    warehouse = Warehouse(settings).as_role(DELIVERY_ROLE)
    with warehouse.connect() as conn:
        store.ensure_tables(conn, warehouse.settings)
        conn.commit()  # the tables and the audit schema visible before another connection writes the audit log
        conn.execute("select pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"execmetrics:incident:{incident.key}",))
        if store.incident_status(conn, incident.key, channel) == "sent":
            return f"{incident.key}: already notified on {channel}"
        extra = {"sleep": sleep} if sleep is not None else {}
        outcome = notify(
            warehouse, config, channel, notice, subject=incident.key, run_id=incident.run_id, sender=sender, **extra
        )
        store.record_incident(
            conn, incident.key, channel, "sent" if outcome.ok else "failed", outcome.attempts, outcome.detail,
            incident.run_id,
        )  # fmt: skip
        conn.commit()
    if not outcome.ok:
        raise NotifyError(f"could not notify {channel} of {incident.key}: {outcome.detail}")
    if outcome.audit_error:
        raise NotifyError(f"notified {channel} of {incident.key}, but {outcome.audit_error}")
    return f"{incident.key}: notified {channel}"


# ------------------------------------------------------------------------------------------------ failed runs


def _partitions(tags: dict[str, str]) -> str:
    if PARTITION_TAG in tags:
        return tags[PARTITION_TAG]
    if RANGE_TAGS[0] in tags:
        return f"{tags[RANGE_TAGS[0]]}..{tags.get(RANGE_TAGS[1], '?')}"
    return "unpartitioned"


def failure_incident(context: RunFailureSensorContext, base_url: str) -> Incident:
    """The failing step(s) with their root error, and the failed blocking checks (a GE or dbt check of ERROR
    severity), told as `execmetrics backfill` tells them."""
    from orchestration.pipeline import failed_blocking_checks, root_message

    run = context.dagster_run
    steps = []
    for event in context.get_step_failure_events():
        data: Any = event.event_specific_data
        error = root_message(data.error) if data and data.error else "no error message"
        steps.append(f"{event.step_key}: {error[:300]}")
    checks = failed_blocking_checks(context.instance, run.run_id)
    root = run.tags.get(ROOT_RUN_TAG, run.run_id)
    failing = "; ".join(steps) if steps else (context.failure_event.message or "the run failed")
    blocking = f" Blocking: {'; '.join(line[:500] for line in checks)}." if checks else ""
    return Incident(
        key=f"run-failure:{root}",
        title=f"Pipeline run failed: {run.job_name} ({_partitions(dict(run.tags))})",
        text=f"{run.job_name} run {run.run_id[:8]} failed. Failing step: {failing}.{blocking}",
        fields=(
            ("Job", run.job_name),
            ("Partitions", _partitions(dict(run.tags))),
            ("Failing step", ", ".join(step.split(":", 1)[0] for step in steps) or "n/a"),
            ("Run", run.run_id),
        ),
        link=f"{base_url}/runs/{run.run_id}",
        run_id=run.run_id,
    )


# ------------------------------------------------------------------------------------------------ late marts


def late_marts_incident(
    instance: Any, now: datetime, timezone: str, due_hour: int, base_url: str, first_day: date
) -> Incident | None:
    """An incident when yesterday's daily marts are not built by `due_hour` today (reporting timezone); none for a
    day before the first partition `first_day`."""
    from orchestration.partitions import DAY_FORMAT

    local = now.astimezone(ZoneInfo(timezone))
    day = local.date() - timedelta(days=1)
    if local.hour < due_hour or day < first_day:
        return None
    key = day.strftime(DAY_FORMAT)
    if key in instance.get_materialized_partitions(DAILY_MARTS_KEY):
        return None
    runs = instance.get_runs(filters=RunsFilter(job_name=DAILY_JOB, tags={PARTITION_TAG: key}), limit=1)
    latest = runs[0] if runs else None
    status = f"latest run {latest.run_id[:8]} is {latest.status.value}" if latest else "no run of that day yet"
    return Incident(
        key=f"marts-late:{key}",
        title=f"Daily marts for {key} are late",
        text=(
            f"marts/fct_daily_metrics has no successful partition {key} at {local:%H:%M} {timezone} "
            f"(due by {due_hour:02d}:00): {status}."
        ),
        fields=(
            ("Partition", key),
            ("Due by", f"{due_hour:02d}:00 {timezone}"),
            ("Latest run", f"{latest.run_id} ({latest.status.value})" if latest else "none"),
        ),
        link=f"{base_url}/runs/{latest.run_id}" if latest else f"{base_url}/assets/marts/fct_daily_metrics",
        run_id=latest.run_id if latest else None,
    )


# ------------------------------------------------------------------------------------------------ held alerts


def held_days(settings: Settings, now: datetime, timezone: str) -> list[date]:
    """Days with messages held by quiet hours whose channel (of the settings' channels file) is now outside them."""
    from dashboards.delivery import store
    from dashboards.delivery.config import load_config
    from extract.warehouse import Warehouse

    config = load_config(settings.alerts_config)
    local = now.astimezone(ZoneInfo(timezone)).time()
    open_channels = [
        name
        for name, channel in config.enabled_channels().items()
        if channel.quiet_hours is None or not channel.quiet_hours.contains(local)
    ]
    if not open_channels:
        return []
    with Warehouse(settings).as_role(DELIVERY_ROLE).connect() as conn:
        if not store.exists(conn):
            return []
        rows = conn.execute(
            """select distinct case when kind = 'resolved' then metric_date + 1 else metric_date end
               from audit.alert_deliveries where status = 'held' and channel = any(%s) order by 1""",
            (open_channels,),
        ).fetchall()
    return [row[0] for row in rows]


def build_sensors(settings: Settings) -> list:
    """The three sensors, reading the channels file, the warehouse, the timezone and MARTS_DUE_BY of `settings` (the
    code location's)."""
    from dashboards.delivery.config import load_config
    from orchestration.partitions import DAY_FORMAT, partitions_start, reporting_timezone

    timezone = reporting_timezone(settings)

    @run_failure_sensor(
        name="pipeline_failure_sensor",
        default_status=DefaultSensorStatus.RUNNING,
        description="A failed run notifies the pipeline_health channel of the channels file, once per incident.",
    )
    def pipeline_failure_sensor(context: RunFailureSensorContext) -> None:
        base_url = dagster_url(load_config(settings.alerts_config), settings.ui_port)
        context.log.info(notify_incident(settings, failure_incident(context, base_url)))

    @sensor(
        name="marts_late_sensor",
        minimum_interval_seconds=300,
        default_status=DefaultSensorStatus.RUNNING,
        description="Yesterday's daily marts not built by MARTS_DUE_BY: one message to the pipeline_health channel.",
    )
    def marts_late_sensor(context: SensorEvaluationContext) -> SkipReason:
        config = load_config(settings.alerts_config)
        if config.pipeline_health is None:
            return SkipReason("no pipeline_health channel in the channels file")
        incident = late_marts_incident(
            context.instance,
            datetime.now(ZoneInfo("UTC")),
            timezone,
            settings.marts_due_by,
            dagster_url(config, settings.ui_port),
            partitions_start(settings),
        )
        if incident is None:
            return SkipReason("yesterday's daily marts are built, or not due yet")
        return SkipReason(notify_incident(settings, incident))

    @sensor(
        name="held_alerts_sensor",
        job_name=DELIVERY_JOB,
        minimum_interval_seconds=900,
        default_status=DefaultSensorStatus.RUNNING,
        description="Sends the alerts held during a channel's quiet hours once they are over (alert_delivery_job).",
    )
    def held_alerts_sensor(context: SensorEvaluationContext) -> list[RunRequest] | SkipReason:
        now = datetime.now(ZoneInfo("UTC"))
        days = held_days(settings, now, timezone)
        if not days:
            return SkipReason("no held alert whose channel is out of quiet hours")
        return [
            RunRequest(run_key=f"held-{day:%Y-%m-%d}-{now:%Y%m%d%H%M}", partition_key=day.strftime(DAY_FORMAT))
            for day in days
        ]

    return [pipeline_failure_sensor, marts_late_sensor, held_alerts_sensor]


def sensors_definitions(settings: Settings) -> Definitions:
    return Definitions(sensors=build_sensors(settings))
