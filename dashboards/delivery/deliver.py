"""Deliver the alerts of a range of days to every channel that covers them, once each.

For each enabled channel and each alert of marts.fct_metric_alerts in first..last that the channel covers
(minimum severity, metrics, tenants), by the state recorded in audit.alert_deliveries:
- `sent`: nothing (a re-run or a backfill of the same day sends nothing new);
- none yet, and the day is older than `max_age_days` before today (reporting timezone): recorded `suppressed`,
  not sent, unless `deliver_historical` (a backfill of old days does not page anyone);
- in the channel's quiet hours (reporting timezone): recorded `held`; a later run outside them sends it;
- otherwise sent, with retries and exponential backoff on transient errors; recorded `sent` or `failed`.
Resolutions: an alert sent for day d-1 whose (tenant, metric, rule) does not fire on day d (d in first..last)
sends one "resolved" message to the channels that got it (unless the channel sets `send_resolved: false`).

Every try is a row of audit.delivery_attempts. The report lists failures; the caller fails its step on them.
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
from dashboards.delivery.config import AlertsConfig, Retry
from dashboards.delivery.messages import Alert, Notice, alert_notice, resolved_notice
from dashboards.delivery.transports import Sender, SendError, channel_sender

Log = Callable[[str], None]
Sleep = Callable[[float], None]


@dataclass
class Outcome:
    ok: bool
    attempts: int
    detail: str


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

    def counts(self) -> dict[str, int]:
        return {
            "alerts": self.alerts,
            "sent": len(self.sent),
            "failed": len(self.failed),
            "held": len(self.held),
            "suppressed": len(self.suppressed),
            "already_sent": self.already_sent,
        }


def send_with_retries(
    conn: psycopg.Connection,
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
) -> Outcome:
    """Try `send` up to retry.attempts times (transient errors only), logging every try; never raises SendError."""
    attempt = 0
    while True:
        attempt += 1
        try:
            detail = send()
        except SendError as exc:
            last = attempt >= retry.attempts or not exc.transient
            store.log_attempt(
                conn,
                channel=channel,
                kind=kind,
                subject=subject,
                delivery_id=delivery_id,
                attempt=attempt,
                outcome="failed" if last else "retrying",
                detail=str(exc),
                run_id=run_id,
            )
            conn.commit()
            if last:
                log(f"{channel}: {subject} failed after {attempt} tr{'y' if attempt == 1 else 'ies'}: {exc}")
                return Outcome(False, attempt, str(exc))
            wait = retry.wait(attempt)
            log(f"{channel}: {subject} try {attempt} failed ({exc}); retrying in {wait:g}s")
            sleep(wait)
            continue
        store.log_attempt(
            conn,
            channel=channel,
            kind=kind,
            subject=subject,
            delivery_id=delivery_id,
            attempt=attempt,
            outcome="sent",
            detail=detail,
            run_id=run_id,
        )
        conn.commit()
        return Outcome(True, attempt, detail)


ALERTS_SQL = """
select a.metric_date, a.tenant_id, a.metric, a.rule, a.rule_id, a.severity, a.metric_value, a.expected_value,
       a.z_score, a.message, {tenant_name} as tenant_name
from marts.fct_metric_alerts as a
{tenant_join}
where a.metric_date between %s and %s
order by a.metric_date, a.tenant_id, a.metric, a.rule
"""


def _has_relation(conn: psycopg.Connection, name: str) -> bool:
    row = conn.execute("select to_regclass(%s) is not null", (name,)).fetchone()
    return bool(row and row[0])


def load_alerts(conn: psycopg.Connection, first: date, last: date) -> list[Alert]:
    if not _has_relation(conn, "marts.fct_metric_alerts"):
        return []
    named = _has_relation(conn, "marts.dim_tenants")
    query = ALERTS_SQL.format(
        tenant_name="t.tenant_name" if named else "null::text",
        tenant_join="left join marts.dim_tenants as t on t.tenant_id = a.tenant_id" if named else "",
    )
    return [Alert(*row) for row in conn.execute(query, (first, last)).fetchall()]


def _delivery_id(key: store.Key) -> str:
    """Stable per (channel, kind, alert): the same id on every try and re-run, for receivers that dedupe."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "execmetrics:" + "|".join(map(str, key))))


def _subject(alert: Alert, kind: str) -> str:
    return f"{kind} {alert.metric_date} {alert.tenant_id} {alert.metric} {alert.rule}"


def deliver_alerts(
    conn: psycopg.Connection,
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
    store.ensure_tables(conn)
    conn.commit()
    report = DeliveryReport(first, last)
    channels = config.enabled_channels()
    alerts = load_alerts(conn, first - timedelta(days=1), last)
    report.alerts = sum(1 for alert in alerts if alert.metric_date >= first)
    if not channels:
        return report
    send = sender or channel_sender(config)
    local_now = (now or datetime.now(ZoneInfo("UTC"))).astimezone(ZoneInfo(timezone))
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
        if not approved and not deliver_historical and day < oldest_current:
            if state is None:
                store.record_state(
                    conn, key, rule_id=alert.rule_id, severity=alert.severity, status="suppressed", attempts=0,
                    delivery_id=delivery_id, run_id=run_id,
                    reason=f"{day} is more than {config.max_age_days} days before {local_now.date()}",
                )  # fmt: skip
                conn.commit()
            report.suppressed.append(label)
            return
        if channel.quiet_hours is not None and channel.quiet_hours.contains(local_now.time()):
            store.record_state(
                conn, key, rule_id=alert.rule_id, severity=alert.severity, status="held", attempts=0,
                delivery_id=delivery_id, run_id=run_id,
                reason=f"quiet hours {channel.quiet_hours.start:%H:%M}-{channel.quiet_hours.end:%H:%M} {timezone}",
            )  # fmt: skip
            conn.commit()
            report.held.append(label)
            return
        outcome = send_with_retries(
            conn,
            lambda: send(name, channel, notice, delivery_id),
            retry=config.retry,
            channel=name,
            kind=kind,
            subject=_subject(alert, kind),
            delivery_id=delivery_id,
            run_id=run_id,
            log=log,
            sleep=sleep,
        )
        store.record_state(
            conn, key, rule_id=alert.rule_id, severity=alert.severity, status="sent" if outcome.ok else "failed",
            attempts=outcome.attempts, delivery_id=delivery_id, run_id=run_id,
            reason=None if outcome.ok else outcome.detail,
        )  # fmt: skip
        conn.commit()
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
    return report


# ------------------------------------------------------------------------------------------------ one-off notices


def notify(
    conn: psycopg.Connection,
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
    """Send one notice (a test message, a pipeline incident) to one channel, with retries, logged."""
    store.ensure_tables(conn)
    conn.commit()
    channel = config.channel(channel_name)
    send = sender or channel_sender(config)
    delivery_id = str(uuid.uuid4())
    return send_with_retries(
        conn,
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
        link=dashboard,
        data={"channel": channel_name},
    )
