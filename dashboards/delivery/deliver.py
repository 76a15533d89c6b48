"""Deliver the alerts of a range of days to every channel that covers them, once each.

For each enabled channel and each alert of reporting.rpt_alerts (marts.fct_metric_alerts with the tenant's name) in
first..last that the channel covers
(minimum severity, metrics, tenants), by the state recorded in audit.alert_deliveries:
- `sent`: nothing (a re-run or a backfill of the same day sends nothing new);
- none yet, and the day is older than `max_age_days` before today (reporting timezone): recorded `suppressed`,
  not sent, unless `deliver_historical` (a backfill of old days does not page anyone);
- in the channel's quiet hours (reporting timezone): recorded `held`; a later run outside them sends it;
- otherwise sent, with retries and exponential backoff on transient errors; recorded `sent` or `failed`.
Resolutions: an alert sent for day d-1 whose (tenant, metric, rule) does not fire on day d (d in first..last)
sends one "resolved" message to the channels that got it (unless the channel sets `send_resolved: false`).

Every try of every message is an event of the audit log (`audit.events`, action `delivery.<kind>`, the channel as
its target, the try's number and result, the receiver's answer or the error as its detail). The report lists
failures (and any try the audit log could not take); the caller fails its step on them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from dashboards.delivery import store
from dashboards.delivery.config import AlertsConfig, ConfigError, Retry
from dashboards.delivery.messages import Alert, Notice, alert_notice, dashboards_link, resolved_notice
from dashboards.delivery.transports import Sender, SendError, channel_sender
from extract import audit
from extract.settings import Settings
from extract.warehouse import Warehouse

Log = Callable[[str], None]
Sleep = Callable[[float], None]


@dataclass
class Outcome:
    ok: bool
    attempts: int
    detail: str
    audit_error: str | None = None  # a try the audit log could not take (the message itself may have gone out)


@dataclass
class DeliveryReport:
    first: date
    last: date
    alerts: int = 0
    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    suppressed: list[str] = field(default_factory=list)
    already_sent: int = 0
    not_covered: int = 0
    audit_errors: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "alerts": self.alerts,
            "sent": len(self.sent),
            "failed": len(self.failed),
            "held": len(self.held),
            "suppressed": len(self.suppressed),
            "already_sent": self.already_sent,
        }


def record_attempt(
    recorder: Warehouse,
    *,
    channel: str,
    kind: str,
    subject: str,
    delivery_id: str | None,
    attempt: int,
    result: str,
    detail: str | None,
    run_id: str | None,
    about: dict[str, Any] | None = None,
) -> str | None:
    """One try as an event of the audit log; returns why it could not be written (None when it was)."""
    parameters = {"subject": subject, "delivery_id": delivery_id, "attempt": attempt, "result": result}
    parameters.update({"run_id": run_id, **(about or {})})
    try:
        audit.record(
            recorder,
            f"{audit.DELIVERY}.{kind}",
            target=channel,
            parameters=parameters,
            outcome="success" if result == "sent" else "failure",
            detail=detail,
        )
    except audit.AuditError as exc:
        return str(exc)
    return None


def send_with_retries(
    recorder: Warehouse,
    send: Callable[[], str],
    *,
    retry: Retry,
    channel: str,
    kind: str,
    subject: str,
    delivery_id: str | None,
    run_id: str | None,
    log: Log,
    sleep: Sleep = time.sleep,
    about: dict[str, Any] | None = None,
) -> Outcome:
    """Try `send` up to retry.attempts times (transient errors only), each try an event of the audit log (written
    as `recorder`'s role); never raises SendError."""
    attempt = 0
    audit_error = None
    while True:
        attempt += 1
        try:
            detail = send()
        except SendError as exc:
            last = attempt >= retry.attempts or not exc.transient
            audit_error = audit_error or record_attempt(
                recorder, channel=channel, kind=kind, subject=subject, delivery_id=delivery_id, attempt=attempt,
                result="failed" if last else "retrying", detail=str(exc), run_id=run_id, about=about,
            )  # fmt: skip
            if last:
                log(f"{channel}: {subject} failed after {attempt} tr{'y' if attempt == 1 else 'ies'}: {exc}")
                return Outcome(False, attempt, str(exc), audit_error)
            wait = retry.wait(attempt)
            log(f"{channel}: {subject} try {attempt} failed ({exc}); retrying in {wait:g}s")
            sleep(wait)
            continue
        audit_error = audit_error or record_attempt(
            recorder, channel=channel, kind=kind, subject=subject, delivery_id=delivery_id, attempt=attempt,
            result="sent", detail=detail, run_id=run_id, about=about,
        )  # fmt: skip
        return Outcome(True, attempt, detail, audit_error)


ALERTS_SQL = """
select metric_date, tenant_id, tenant_name, metric, rule, rule_id, severity, metric_value, expected_value, z_score,
       message
from reporting.rpt_alerts
where metric_date between %s and %s
order by metric_date, tenant_id, metric, rule
"""


def load_alerts(conn: psycopg.Connection, first: date, last: date) -> list[Alert]:
    """The alerts of first..last as readers see them (reporting.rpt_alerts: tenant names); none before it is built."""
    row = conn.execute("select to_regclass('reporting.rpt_alerts') is not null").fetchone()
    if not (row and row[0]):
        return []
    return [Alert(*found) for found in conn.execute(ALERTS_SQL, (first, last)).fetchall()]


def _delivery_id(key: store.Key) -> str:
    """Stable per (channel, kind, alert): the same id on every try and re-run, for receivers that dedupe."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "execmetrics:" + "|".join(map(str, key))))


def _subject(alert: Alert, kind: str) -> str:
    return f"{kind} {alert.metric_date} {alert.tenant_id} {alert.metric} {alert.rule}"


def deliver_alerts(
    warehouse: Warehouse,
    config: AlertsConfig,
    first: date,
    last: date,
    *,
    timezone: str,
    now: datetime | None = None,
    deliver_historical: bool = False,
    run_id: str | None = None,
    sender: Sender | None = None,
    log: Log = lambda message: None,
    sleep: Sleep = time.sleep,
) -> DeliveryReport:
    """Send the alerts of first..last, connected as `warehouse` (the delivery's role: it reads reporting.rpt_alerts,
    writes audit.alert_deliveries and appends each try to the audit log)."""
    with warehouse.connect() as conn:
        report = DeliveryReport(first, last)
        channels = config.enabled_channels()
        alerts = load_alerts(conn, first - timedelta(days=1), last)
        report.alerts = sum(1 for alert in alerts if alert.metric_date >= first)
        if not channels:
            return report
        store.ensure_tables(conn, warehouse.settings)
        conn.commit()
        local_now = (now or datetime.now(ZoneInfo("UTC"))).astimezone(ZoneInfo(timezone))
        _deliver(
            conn,
            warehouse,
            config,
            channels,
            alerts,
            report,
            local_now=local_now,
            deliver_historical=deliver_historical,
            run_id=run_id,
            send=sender or channel_sender(config),
            log=log,
            sleep=sleep,
        )
        return report


def _deliver(
    conn: psycopg.Connection,
    recorder: Warehouse,
    config: AlertsConfig,
    channels: dict[str, Any],
    alerts: list[Alert],
    report: DeliveryReport,
    *,
    local_now: datetime,
    deliver_historical: bool,
    run_id: str | None,
    send: Sender,
    log: Log,
    sleep: Sleep,
) -> None:
    """The once-per-channel rules of the module's docstring, over `alerts` (first - 1 .. last: resolutions)."""
    first, last = report.first, report.last
    timezone = str(local_now.tzinfo)
    oldest_current = local_now.date() - timedelta(days=config.max_age_days)
    known = store.states(conn, channels, first - timedelta(days=1), last)
    by_key = {alert.key: alert for alert in alerts}

    def process(name: str, channel: Any, alert: Alert, kind: str, notice: Notice, label: str) -> None:
        key: store.Key = (name, kind, *alert.key)
        state = known.get(key)
        if state is not None and state.status == "sent":
            report.already_sent += 1
            return
        delivery_id = state.delivery_id if state else _delivery_id(key)
        day = alert.metric_date if kind == "alert" else alert.metric_date + timedelta(days=1)
        approved = state is not None and state.status in ("held", "failed")  # queued once: an old day still goes

        def record(status: str, attempts: int, reason: str | None) -> None:
            store.record_state(
                conn, key, rule_id=alert.rule_id, severity=alert.severity, status=status, attempts=attempts,
                delivery_id=delivery_id, run_id=run_id, reason=reason,
            )  # fmt: skip
            conn.commit()

        if not approved and not deliver_historical and day < oldest_current:
            if state is None:
                record("suppressed", 0, f"{day} is more than {config.max_age_days} days before {local_now.date()}")
            report.suppressed.append(label)
            return
        if channel.quiet_hours is not None and channel.quiet_hours.contains(local_now.time()):
            quiet = channel.quiet_hours
            record("held", 0, f"quiet hours {quiet.start:%H:%M}-{quiet.end:%H:%M} {timezone}")
            report.held.append(label)
            return
        outcome = send_with_retries(
            recorder,
            lambda: send(name, channel, notice, delivery_id),
            retry=config.retry,
            channel=name,
            kind=kind,
            subject=_subject(alert, kind),
            delivery_id=delivery_id,
            run_id=run_id,
            log=log,
            sleep=sleep,
            about={"metric_date": alert.metric_date, "tenant_id": alert.tenant_id, "tenant_name": alert.tenant_name,
                   "metric": alert.metric, "rule": alert.rule, "severity": alert.severity},
        )  # fmt: skip
        if outcome.audit_error:
            report.audit_errors.append(f"{label}: {outcome.audit_error}")
        record("sent" if outcome.ok else "failed", outcome.attempts, None if outcome.ok else outcome.detail)
        known[key] = store.DeliveryState("sent" if outcome.ok else "failed", outcome.attempts, delivery_id)
        (report.sent if outcome.ok else report.failed).append(label + ("" if outcome.ok else f": {outcome.detail}"))

    dashboard = config.links.dashboard
    for name, channel in channels.items():
        for alert in alerts:
            if alert.metric_date < first:
                continue
            if not channel.covers(alert.severity, alert.metric, alert.tenant_id):
                report.not_covered += 1
                continue
            process(
                name, channel, alert, "alert", alert_notice(alert, dashboard), f"{name}: {_subject(alert, 'alert')}"
            )
        if not channel.send_resolved:
            continue
        for key, state in sorted(known.items(), key=lambda item: str(item[0])):
            channel_name, kind, metric_date, tenant_id, metric, rule = key
            if channel_name != name or kind != "alert" or state.status != "sent":
                continue
            cleared_on = metric_date + timedelta(days=1)
            if not first <= cleared_on <= last or (cleared_on, tenant_id, metric, rule) in by_key:
                continue
            fired = by_key.get((metric_date, tenant_id, metric, rule))
            if fired is None:  # the firing day itself no longer fires (data corrected): nothing to resolve
                continue
            process(
                name, channel, fired, "resolved", resolved_notice(fired, cleared_on, dashboard),
                f"{name}: {_subject(fired, 'resolved')}",
            )  # fmt: skip


# ------------------------------------------------------------------------------------------------ one-off notices


def notify(
    recorder: Warehouse,
    config: AlertsConfig,
    channel_name: str,
    notice: Notice,
    *,
    subject: str,
    run_id: str | None = None,
    sender: Sender | None = None,
    log: Log = lambda message: None,
    sleep: Sleep = time.sleep,
) -> Outcome:
    """Send one notice (a test message, a pipeline incident) to one channel, with retries; each try goes to the audit
    log as `recorder`'s role."""
    channel = config.channel(channel_name)
    send = sender or channel_sender(config)
    delivery_id = str(uuid.uuid4())
    return send_with_retries(
        recorder,
        lambda: send(channel_name, channel, notice, delivery_id),
        retry=config.retry,
        channel=channel_name,
        kind=notice.kind,
        subject=subject,
        delivery_id=delivery_id,
        run_id=run_id,
        log=log,
        sleep=sleep,
    )


def channel_test_notice(channel_name: str, dashboard: str | None) -> Notice:
    return Notice(
        kind="test",
        title=f"Test message for channel {channel_name}",
        text="execmetrics can reach this channel. Alerts and reports configured for it will arrive here.",
        fields=(("Channel", channel_name),),
        link=dashboards_link(dashboard),
        data={"channel": channel_name},
    )


LIST_SQL = """
with alerts as (
    select metric_date, tenant_id, tenant_name, metric, rule, severity, metric_value, expected_value
    from reporting.rpt_alerts
    where metric_date >= %(since)s
),
deliveries as (
    select metric_date, tenant_id, metric, rule,
           string_agg(channel || ': ' || case when kind = 'resolved' then 'resolved ' else '' end || status
                      || case when attempts > 1 then ' (' || attempts || ' tries)' else '' end,
                      ', ' order by channel, kind) as delivered
    from {deliveries}
    where metric_date >= %(since)s
    group by 1, 2, 3, 4
)
select coalesce(a.metric_date, d.metric_date), coalesce(a.tenant_name, d.tenant_id), coalesce(a.metric, d.metric),
       coalesce(a.rule, d.rule), a.severity, a.metric_value, a.expected_value,
       coalesce(d.delivered, '') || case when a.metric is null then ' (no longer fires)' else '' end
from alerts a
full join deliveries d using (metric_date, tenant_id, metric, rule)
order by 1 desc, 2, 3, 4
"""

NO_DELIVERIES = (
    "(select null::date as metric_date, null::text as tenant_id, null::text as metric, null::text as rule,"
    " null::text as channel, null::text as kind, null::text as status, null::integer as attempts where false)"
)


def list_rows(conn: psycopg.Connection, since: date) -> list[tuple[Any, ...]]:
    """The alerts of reporting.rpt_alerts since `since` with their deliveries (audit.alert_deliveries, when any
    delivery ran), newest first; a delivery whose alert no longer fires is listed too."""
    from dashboards.delivery import store

    if conn.execute("select to_regclass('reporting.rpt_alerts') is null").fetchone() == (True,):
        raise ConfigError(
            "reporting.rpt_alerts does not exist yet: build the marts first (execmetrics backfill --start D --end D)"
        )
    deliveries = "audit.alert_deliveries" if store.exists(conn) else NO_DELIVERIES
    return list(conn.execute(LIST_SQL.format(deliveries=deliveries), {"since": since}).fetchall())  # type: ignore[arg-type]


def list_alerts(settings: Settings, since: date) -> list[tuple[Any, ...]]:
    """`execmetrics alerts list`: list_rows read as the reader role, the embedded warehouse started when needed."""
    from extract.warehouse import Warehouse

    warehouse = Warehouse(settings)
    if warehouse.embedded is not None:
        warehouse.ensure_running()
    with warehouse.as_role("reader").connect() as conn:
        return list_rows(conn, since)


def send_test_message(settings: Settings, channel: str, log: Callable[[str], None]) -> Any:
    """`execmetrics alerts test`: one test message to `channel` of the channels file, with its retries, recorded as
    the reader role (as `execmetrics dashboards apply` records); ConfigError for an unknown channel. Returns the
    outcome."""
    from dashboards.delivery.config import load_channels
    from extract.warehouse import Warehouse

    config = load_channels(settings.alerts_config)
    config.channel(channel)
    warehouse = Warehouse(settings)
    if warehouse.embedded is not None:
        warehouse.ensure_running()
    return notify(
        warehouse.as_role("reader"),
        config,
        channel,
        channel_test_notice(channel, config.links.dashboard),
        subject=f"test message to {channel}",
        log=log,
    )
