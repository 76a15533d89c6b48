"""Delivery fixtures: loopback receivers, a warehouse with a few alerts (reporting.rpt_alerts), a channels file per
test (the shared days, rows and helpers: delivery_helpers.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from delivery_helpers import START, DeliveryEnv, create_alerts  # noqa: E402
from receivers import HttpReceiver, Mailbox, start_http_receiver, start_smtp_server  # noqa: E402

from extract.warehouse import Target  # noqa: E402


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


@pytest.fixture
def delivery_env(
    pg_target: Target,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    http_receiver: HttpReceiver,
    mailbox: Mailbox,
) -> Iterator[DeliveryEnv]:

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
    http_receiver.clear()
    mailbox.messages.clear()
    with psycopg.connect(pg_target.conninfo, autocommit=True) as conn:
        create_alerts(conn)
    yield DeliveryEnv(pg_target, tmp_path, config_path, http_receiver, mailbox, monkeypatch)
