"""Delivery fixtures: loopback receivers, a warehouse with a small alerts mart, a channels file per test."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from receivers import HttpReceiver, Mailbox, start_http_receiver, start_smtp_server  # noqa: E402

from extract.settings import reset_settings  # noqa: E402
from extract.warehouse import Target  # noqa: E402

TODAY = datetime.now(UTC).date()
DAY = TODAY - timedelta(days=1)  # yesterday: what the daily schedule builds
NEXT = TODAY  # the day after DAY (today's partition exists: end_offset=1)
OLD = TODAY - timedelta(days=30)  # a backfilled day
START = TODAY - timedelta(days=40)
SECRET = "whsec_test_8f2c"
SLACK_PATH = "services/T000/B000/slack-token"

ALERT_ROWS = [
    (DAY, "t1", "jobs_success_rate", "threshold", "jobs_success_rate_critical", "critical", 0.75, 0.80, None,
     "Job success rate below 80%: jobs_success_rate is 0.75 for tenant t1"),
    (DAY, "__all__", "api_requests", "anomaly", "robust_z", "warning", 2000, 201.5, 52.3,
     "Anomaly: api_requests is 2000 for all tenants, higher than the usual 201.5"),
    (DAY, "t2", "api_5xx_rate", "threshold", "api_5xx_rate_info", "info", 0.012, 0.01, None,
     "API 5xx rate above 1% for tenant t2"),
    (OLD, "t1", "jobs_success_rate", "threshold", "jobs_success_rate_critical", "critical", 0.5, 0.80, None,
     "Job success rate below 80%: jobs_success_rate is 0.5 for tenant t1"),
]  # fmt: skip


def create_marts(conn: psycopg.Connection, rows: list[tuple] = ALERT_ROWS) -> None:
    conn.execute("create schema if not exists marts")
    conn.execute(
        """create table marts.fct_metric_alerts (
               metric_date date not null, tenant_id text not null, metric text not null, rule text not null,
               rule_id text, severity text not null, metric_value numeric, expected_value numeric,
               z_score numeric, message text not null)"""
    )
    conn.execute("create table marts.dim_tenants (tenant_id text primary key, tenant_name text)")
    conn.execute("insert into marts.dim_tenants values ('t1', 'Acme Corp'), ('t2', 'Globex')")
    with conn.cursor() as cur:
        cur.executemany("insert into marts.fct_metric_alerts values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)


@pytest.fixture(scope="session")
def http_receiver() -> Iterator[HttpReceiver]:
    receiver = start_http_receiver()
    yield receiver
    receiver.server.shutdown()


@pytest.fixture(scope="session")
def mailbox() -> Iterator[Mailbox]:
    box = start_smtp_server()
    yield box
    box.stop()


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
            "links": {"dashboard": "https://metabase.example.com/dashboard/7", "dagster": "http://dagster.example.com"},
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


@pytest.fixture
def delivery_env(
    pg_target: Target,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    http_receiver: HttpReceiver,
    mailbox: Mailbox,
) -> Iterator[DeliveryEnv]:
    from orchestration.definitions import reset_definitions

    config_path = tmp_path / "alerts.yml"
    for key, value in {
        "WAREHOUSE_URL": pg_target.url.replace("+psycopg", ""),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "OUTPUT_DIR": str(tmp_path / "out"),
        "ALERTS_CONFIG": str(config_path),
        "PARTITIONS_START_DATE": START.isoformat(),
        "REPORTING_TIMEZONE": "UTC",
    }.items():
        monkeypatch.setenv(key, value)
    reset_settings()
    reset_definitions()
    http_receiver.clear()
    mailbox.messages.clear()
    with psycopg.connect(pg_target.conninfo, autocommit=True) as conn:
        create_marts(conn)
    yield DeliveryEnv(pg_target, tmp_path, config_path, http_receiver, mailbox, monkeypatch)
    reset_settings()
    reset_definitions()


def deliveries(env: DeliveryEnv) -> dict[tuple[str, str, date, str, str], tuple[str, int]]:
    """(channel, kind, day, tenant, metric) -> (status, attempts) from audit.alert_deliveries."""
    with env.conn() as conn:
        rows = conn.execute(
            "select channel, kind, metric_date, tenant_id, metric, status, attempts from audit.alert_deliveries"
        ).fetchall()
    return {tuple(row[:5]): (row[5], row[6]) for row in rows}  # type: ignore[misc]
