"""What the delivery tests share: the days, the alerts (reporting.rpt_alerts), the channels file, the state and the
audit log as the tests read them. The fixtures are in conftest.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from receivers import HttpReceiver, Mailbox

from extract.warehouse import Target

TODAY = datetime.now(UTC).date()
DAY = TODAY - timedelta(days=1)  # yesterday: what the daily schedule builds
NEXT = TODAY  # the day after DAY (today's partition exists: end_offset=1)
OLD = TODAY - timedelta(days=30)  # a backfilled day
START = TODAY - timedelta(days=40)
SECRET = "whsec_test_8f2c"
SLACK_PATH = "services/T000/B000/slack-token"
DASHBOARD = "https://metabase.example.com/dashboard/7"

TENANT_NAMES = {"t1": "Acme Corp", "t2": "Globex", "__all__": "All tenants"}
ALERT_ROWS = [
    (DAY, "t1", "jobs_success_rate", "threshold", "jobs_success_rate_critical", "critical", 0.75, 0.80, None,
     "Job success rate below 80%: jobs_success_rate is 0.75 for Acme Corp"),
    (DAY, "__all__", "api_requests", "anomaly", "robust_z", "warning", 2000, 201.5, 52.3,
     "Anomaly: api_requests is 2000 for all tenants, higher than the usual 201.5"),
    (DAY, "t2", "api_5xx_rate", "threshold", "api_5xx_rate_info", "info", 0.012, 0.01, None,
     "API 5xx rate above 1% for Globex"),
    (OLD, "t1", "jobs_success_rate", "threshold", "jobs_success_rate_critical", "critical", 0.5, 0.80, None,
     "Job success rate below 80%: jobs_success_rate is 0.5 for Acme Corp"),
]  # fmt: skip


def create_alerts(conn: psycopg.Connection, rows: list[tuple] = ALERT_ROWS) -> None:
    """reporting.rpt_alerts as dbt builds it (the columns the delivery reads), with these alerts."""
    conn.execute("create schema if not exists reporting")
    conn.execute(
        """create table reporting.rpt_alerts (
               metric_date date not null, tenant_id text not null, tenant_name text not null, metric text not null,
               rule text not null, rule_id text, severity text not null, metric_value numeric, expected_value numeric,
               z_score numeric, message text not null)"""
    )
    insert_alerts(conn, rows)


def insert_alerts(conn: psycopg.Connection, rows: list[tuple]) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            """insert into reporting.rpt_alerts (metric_date, tenant_id, tenant_name, metric, rule, rule_id, severity,
                   metric_value, expected_value, z_score, message)
               values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            [(row[0], row[1], TENANT_NAMES.get(row[1], row[1]), *row[2:]) for row in rows],
        )


@dataclass
class DeliveryEnv:
    target: Target
    root: Path
    config_path: Path
    http: HttpReceiver
    mail: Mailbox
    env: pytest.MonkeyPatch

    def conn(self) -> psycopg.Connection:
        return psycopg.connect(self.target.conninfo, autocommit=True)

    def standard_config(
        self,
        *,
        slack: str = "ok",
        webhook: str | None = None,
        email: dict | None = None,
        extra: dict | None = None,
        channels: dict | None = None,
        retry: dict | None = None,
    ) -> Path:
        """Three channels: email (warning+), Slack (critical only), signed webhook (every severity, tenant t1 only)."""
        import yaml

        self.env.setenv("TEST_SLACK_URL", self.http.url(SLACK_PATH, slack))
        self.env.setenv("TEST_WEBHOOK_SECRET", SECRET)
        document = {
            "version": 1,
            "links": {"dashboard": DASHBOARD + "?tenant={tenant_name}", "dagster": "http://dagster.example.com"},
            "retry": retry or {"attempts": 3, "backoff_seconds": 0.01},
            "smtp": {
                "host": "127.0.0.1",
                "port": self.mail.port,
                "starttls": False,
                "from": "alerts@execmetrics.example",
            },
            "channels": {
                "leadership-email": {
                    "type": "email",
                    "to": ["ceo@example.com", "cfo@example.com"],
                    "min_severity": "warning",
                    **(email or {}),
                },
                "product-slack": {"type": "slack", "webhook_url": "${TEST_SLACK_URL}", "min_severity": "critical"},
                "ops-webhook": {
                    "type": "webhook",
                    "url": self.http.url("hooks/alerts", webhook or f"signed:{SECRET}"),
                    "secret": "${TEST_WEBHOOK_SECRET}",
                    "min_severity": "info",
                    "tenants": ["t1"],
                },
                **(channels or {}),
            },
            **(extra or {}),
        }
        self.config_path.write_text(yaml.safe_dump(document, sort_keys=False))
        return self.config_path


def deliveries(env: DeliveryEnv) -> dict[tuple[str, str, date, str, str], tuple[str, int]]:
    """(channel, kind, day, tenant, metric) -> (status, attempts) from audit.alert_deliveries."""
    with env.conn() as conn:
        rows = conn.execute(
            "select channel, kind, metric_date, tenant_id, metric, status, attempts from audit.alert_deliveries"
        ).fetchall()
    return {tuple(row[:5]): (row[5], row[6]) for row in rows}  # type: ignore[misc]


def attempts(env: DeliveryEnv, channel: str) -> list[tuple[int, str]]:
    """(try number, result) of every try to `channel`, from the audit log (audit.events, delivery.*)."""
    with env.conn() as conn:
        rows = conn.execute(
            """select parameters->>'attempt', parameters->>'result' from audit.events
               where action like 'delivery.%%' and target = %s order by event_id""",
            (channel,),
        ).fetchall()
    return [(int(attempt), result) for attempt, result in rows]


def delivery_asset(settings: Any = None) -> Any:
    """The code location's delivery asset, built from `settings` (default: the environment the test set)."""
    from extract.settings import load_settings
    from orchestration.assets.delivery import build_delivery_asset
    from orchestration.partitions import backfill_policy, daily_partitions

    settings = settings or load_settings()
    return build_delivery_asset(daily_partitions(settings), backfill_policy(settings.backfill_max_partitions_per_run))


def delivery_resources(settings: Any = None) -> dict[str, Any]:
    """The resources the delivery asset and the board pack job take, built as the code location builds them."""
    from extract.settings import load_settings
    from orchestration.resources import DeliveryResource, WarehouseResource

    settings = settings or load_settings()
    return {
        "warehouse": WarehouseResource.from_settings(settings),
        "delivery": DeliveryResource.from_settings(settings),
    }
