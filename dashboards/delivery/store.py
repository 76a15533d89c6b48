"""What was delivered, in the warehouse (schema `audit`): the state that makes each message go out once.

- `audit.alert_deliveries`: one row per (channel, kind, metric_date, tenant_id, metric, rule), kind `alert` or
  `resolved`, with its state: `sent`, `failed` (every try failed; the next run of that day tries again), `held`
  (quiet hours; sent by the next run outside them) or `suppressed` (an old day, not sent unless asked). The key
  is what makes a message go out once per channel whatever re-runs and backfills happen.
- `audit.pipeline_notifications`: one row per (incident, channel) for pipeline health (failed runs, late marts).

Every try of any message (alerts, resolutions, pipeline incidents, the board pack, tests) is an event of the audit log
`audit.events` (extract/audit.py, action `delivery.<kind>`), written by `deliver.send_with_retries`.

Who writes: the transformer role (the delivery asset and the sensors run after dbt, as the pipeline); the tables are
created on first use by whoever writes them, and the reader may read them (`execmetrics alerts list`).
`execmetrics warehouse grant` hands tables created before the roles existed to the transformer (extract/access.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

if TYPE_CHECKING:
    from extract.settings import Settings

TABLES = ("alert_deliveries", "pipeline_notifications")

DDL = """
create table if not exists audit.alert_deliveries (
    channel text not null,
    kind text not null,
    metric_date date not null,
    tenant_id text not null,
    metric text not null,
    rule text not null,
    rule_id text,
    severity text not null,
    status text not null,
    attempts integer not null default 0,
    delivery_id text not null,
    reason text,
    first_seen_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    delivered_at timestamptz,
    run_id text,
    primary key (channel, kind, metric_date, tenant_id, metric, rule),
    constraint alert_deliveries_kind check (kind in ('alert', 'resolved')),
    constraint alert_deliveries_status check (status in ('sent', 'failed', 'held', 'suppressed'))
);
create table if not exists audit.pipeline_notifications (
    incident text not null,
    channel text not null,
    status text not null,
    attempts integer not null default 0,
    detail text,
    first_seen_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    run_id text,
    primary key (incident, channel),
    constraint pipeline_notifications_status check (status in ('sent', 'failed'))
);
"""

Key = tuple[str, str, date, str, str, str]  # channel, kind, metric_date, tenant_id, metric, rule


def exists(conn: psycopg.Connection, table: str = "alert_deliveries") -> bool:
    row = conn.execute("select to_regclass(%s) is not null", (f"audit.{table}",)).fetchone()
    return bool(row and row[0])


def ensure_tables(conn: psycopg.Connection, settings: Settings) -> None:
    """Create the state tables where missing (in the caller's transaction) and let the reader role read them."""
    from extract.access import role_name, roles_configured
    from extract.warehouse import create_schema_sql

    if all(exists(conn, table) for table in TABLES):
        return
    # Idempotent, but `create ... if not exists` still races between sessions: serialize on a lock.
    conn.execute("select pg_advisory_xact_lock(hashtextextended('execmetrics:delivery-ddl', 0))")
    conn.execute(create_schema_sql("audit"))  # type: ignore[arg-type]
    conn.execute(DDL)  # type: ignore[arg-type]
    if roles_configured(settings):
        reader = sql.Identifier(role_name(settings, "reader"))
        for table in TABLES:
            conn.execute(sql.SQL("grant select on {} to {}").format(sql.Identifier("audit", table), reader))


@dataclass(frozen=True)
class DeliveryState:
    status: str
    attempts: int
    delivery_id: str


def states(conn: psycopg.Connection, channels: Iterable[str], first: date, last: date) -> dict[Key, DeliveryState]:
    rows = conn.execute(
        """select channel, kind, metric_date, tenant_id, metric, rule, status, attempts, delivery_id
           from audit.alert_deliveries
           where channel = any(%s) and metric_date between %s and %s""",
        (list(channels), first, last),
    ).fetchall()
    return {tuple(row[:6]): DeliveryState(row[6], row[7], row[8]) for row in rows}  # type: ignore[misc]


def record_state(
    conn: psycopg.Connection,
    key: Key,
    *,
    rule_id: str | None,
    severity: str,
    status: str,
    attempts: int,
    delivery_id: str,
    reason: str | None,
    run_id: str | None,
) -> None:
    channel, kind, metric_date, tenant_id, metric, rule = key
    conn.execute(
        """insert into audit.alert_deliveries as d (channel, kind, metric_date, tenant_id, metric, rule, rule_id,
               severity, status, attempts, delivery_id, reason, run_id, delivered_at)
           values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
                   case when %s = 'sent' then now() end)
           on conflict (channel, kind, metric_date, tenant_id, metric, rule) do update set
               rule_id = excluded.rule_id, severity = excluded.severity, status = excluded.status,
               attempts = d.attempts + excluded.attempts, reason = excluded.reason, run_id = excluded.run_id,
               updated_at = now(), delivered_at = coalesce(excluded.delivered_at, d.delivered_at)""",
        (
            channel, kind, metric_date, tenant_id, metric, rule, rule_id, severity, status, attempts,
            delivery_id, reason, run_id, status,
        ),
    )  # fmt: skip


def incident_status(conn: psycopg.Connection, incident: str, channel: str) -> str | None:
    row = conn.execute(
        "select status from audit.pipeline_notifications where incident = %s and channel = %s", (incident, channel)
    ).fetchone()
    return str(row[0]) if row else None


def record_incident(
    conn: psycopg.Connection, incident: str, channel: str, status: str, attempts: int, detail: str, run_id: str | None
) -> None:
    conn.execute(
        """insert into audit.pipeline_notifications as n (incident, channel, status, attempts, detail, run_id)
           values (%s, %s, %s, %s, %s, %s)
           on conflict (incident, channel) do update set status = excluded.status,
               attempts = n.attempts + excluded.attempts, detail = excluded.detail, updated_at = now()""",
        (incident, channel, status, attempts, detail[:1000], run_id),
    )
