"""A real Dagster instance for the end-to-end and browser tests: dagster-webserver + dagster-daemon as processes
on a free loopback port, over a fresh warehouse database fed by the small sample sources. Started once per test
session (the e2e and browser tests share it) and stopped when the session ends."""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.request
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from extract.settings import Settings
from extract.warehouse import Target, Warehouse, ensure_raw_schema
from tests.conftest import throwaway_database

FIRST_DAY = date(2025, 11, 1)
LAST_DAY = date(2025, 11, 7)


@dataclass
class RunningUi:
    url: str
    home: Path
    target: Target
    env: dict[str, str]
    procs: Any
    daily_backfill_id: str | None = None

    def graphql(self, query: str, variables: dict[str, Any] | None = None, timeout: float = 60) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(self.url + "/graphql", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = json.loads(response.read())
        if payload.get("errors"):
            raise AssertionError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]

    def logs(self) -> str:
        return "\n".join(f"--- {p}\n{p.read_text()[-4000:]}" for p in self.procs.logs if p.exists())


_STATE: dict[str, RunningUi] = {}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def shared_ui(pg_server: Target, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> RunningUi:
    if "ui" in _STATE:
        return _STATE["ui"]
    from orch_helpers import write_app_source, write_stripe_dump

    from orchestration.ui import start_ui

    database = ExitStack()
    target = database.enter_context(throwaway_database(pg_server, "ui_" + uuid.uuid4().hex[:10]))
    root = tmp_path_factory.mktemp("dagster_ui")
    env = {
        "WAREHOUSE_URL": target.url.replace("+psycopg", ""),
        "DAGSTER_HOME": str(root / "dagster_home"),
        "OUTPUT_DIR": str(root / "out"),
        "APP_SOURCE_DIR": str(write_app_source(root / "app", FIRST_DAY, LAST_DAY)),
        "STRIPE_DUMP_DIR": str(write_stripe_dump(root / "stripe", FIRST_DAY)),
        "PARTITIONS_START_DATE": FIRST_DAY.isoformat(),
        "COMPANY_FOUNDED_DATE": "2025-09-01",
        "REPORTING_TIMEZONE": "UTC",
        "STRIPE_API_KEY": "",
        "APP_DATABASE_URL": "",
        "DAGSTER_PG_URL": "",
    }
    settings = Settings(
        warehouse_url=env["WAREHOUSE_URL"],
        dagster_home=Path(env["DAGSTER_HOME"]),
        output_dir=Path(env["OUTPUT_DIR"]),
        reporting_timezone="UTC",
    )
    with Warehouse(settings).connect() as conn:
        ensure_raw_schema(conn)
    clean_env = {k: v for k, v in env.items() if v}
    saved = {key: os.environ.get(key) for key in env}
    for key in ("STRIPE_API_KEY", "APP_DATABASE_URL", "DAGSTER_PG_URL"):
        os.environ.pop(key, None)
    try:
        procs = start_ui(port=_free_port(), settings=settings, env=clean_env, wait_seconds=240)
    finally:
        for key, old in saved.items():
            if old is not None:
                os.environ[key] = old
    ui = RunningUi(procs.url, procs.home, target, clean_env, procs)

    def stop() -> None:
        procs.stop()
        _STATE.pop("ui", None)
        database.close()

    request.addfinalizer(stop)
    _STATE["ui"] = ui
    return ui


LAUNCH_BACKFILL = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on UnauthorizedError { message }
    ... on PartitionSetNotFoundError { message }
    ... on InvalidSubsetError { message }
  }
}"""

BACKFILL_STATUS = """
query Status($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { id status numPartitions error { message } }
    ... on PythonError { message }
  }
}"""

DONE = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


def daily_asset_keys(ui: RunningUi) -> list[list[str]]:
    """The daily job's assets (raw extracts + daily dbt models), as the UI's asset selection would list them."""
    from orchestration.assets.dbt import BUILDABLE, DAILY, dbt_project, grain_of, load_manifest, translator
    from orchestration.assets.extract import RAW_KEYS

    settings = Settings(warehouse_url=ui.env["WAREHOUSE_URL"])
    manifest = load_manifest(settings, dbt_project(settings))
    daily = sorted(
        translator().get_asset_key(node)
        for node in manifest["nodes"].values()
        if node["resource_type"] in BUILDABLE and grain_of(node) == {DAILY}
    )
    return [list(key.path) for key in [*RAW_KEYS, *daily]]


DAILY_BACKFILL = ("2025-11-02", "2025-11-04")


def daily_backfill(ui: RunningUi) -> str:
    """The session's one backfill of the daily job's assets over DAILY_BACKFILL, launched through the GraphQL API by
    the first test that asks for it (the browser test shows it while it runs, the end-to-end test waits for it)."""
    if ui.daily_backfill_id is None:
        ui.daily_backfill_id = launch_backfill(ui, *DAILY_BACKFILL, daily_asset_keys(ui))
    return ui.daily_backfill_id


def launch_backfill(ui: RunningUi, first: str, last: str, asset_paths: list[list[str]]) -> str:
    keys = [f"{first[:8]}{day:02d}" for day in range(int(first[8:]), int(last[8:]) + 1)]
    params = {
        "partitionNames": keys,
        "assetSelection": [{"path": path} for path in asset_paths],
        "fromFailure": False,
        "tags": [{"key": "execmetrics/launched_by", "value": "e2e-test"}],
    }
    data = ui.graphql(LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
    assert data["__typename"] == "LaunchBackfillSuccess", data
    return data["backfillId"]


def wait_for_backfill(ui: RunningUi, backfill_id: str, timeout: float = 420) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status = ui.graphql(BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"]
        if status.get("status") in DONE:
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"backfill {backfill_id} not done after {timeout:.0f}s: {status}\n{ui.logs()}")
        time.sleep(3)
