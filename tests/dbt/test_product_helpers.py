"""Helpers shared by the dbt tests (no tests here): a module-scoped warehouse, raw inserts, dbt runs, Stripe cases."""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
from psycopg.rows import dict_row

from extract.warehouse import Target, ensure_raw_schema
from orchestration.dbt_cli import run_dbt
from tests.conftest import throwaway_database

EXTRACTED_AT = datetime(2026, 1, 1, tzinfo=UTC)
STRIPE_CASES = Path(__file__).parent / "fixtures" / "stripe" / "cases.py"


def stripe_cases(name: str) -> ModuleType:
    """A fresh copy of fixtures/stripe/cases.py (its builder and expectations) as module `name`: a caller may
    change its tables without touching another test's copy."""
    spec = importlib.util.spec_from_file_location(name, STRIPE_CASES)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DEFAULTS: dict[str, dict[str, Any]] = {
    "app_tenants": {"name": None, "plan": "team", "stripe_customer_id": None, "is_internal": False, "deleted_at": None},
    "app_users": {"email": None, "last_login_at": None, "is_staff": False, "deleted_at": None},
    "app_events": {"user_id": None, "properties": None},
    "app_jobs": {"job_type": "report", "started_at": None, "finished_at": None, "error": None},
    "app_api_requests": {"user_id": None, "method": "GET", "route": "/v1/items", "status_code": 200},
}


def ts(text: str) -> datetime:
    """'2025-02-03 10:00' (UTC unless an offset is given) -> aware datetime."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@contextmanager
def fresh_warehouse(pg_server: Target) -> Iterator[Target]:
    """A fresh database with the raw schema, dropped afterwards (usable from module-scoped fixtures)."""
    with throwaway_database(pg_server, "p_" + uuid.uuid4().hex[:12]) as target:
        with psycopg.connect(target.conninfo, autocommit=True) as conn:
            ensure_raw_schema(conn)
        yield target


def insert(conn: psycopg.Connection, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert hand-written rows into raw.<table>, filling defaults, updated_at and the batch columns."""
    for row in rows:
        full = {**DEFAULTS.get(table, {}), **row}
        if table in ("app_tenants", "app_users", "app_jobs"):
            full.setdefault("updated_at", full.get("deleted_at") or full.get("finished_at") or full["created_at"])
        if table == "app_events" and isinstance(full.get("properties"), dict):
            from psycopg.types.json import Jsonb

            full["properties"] = Jsonb(full["properties"])
        full.setdefault("_batch_id", "test")
        full.setdefault("_extracted_at", EXTRACTED_AT)
        cols = list(full)
        conn.execute(
            f"insert into raw.{table} ({', '.join(cols)}) values ({', '.join(['%s'] * len(cols))})",
            [full[c] for c in cols],
        )


def dbt(
    target: Target,
    target_path: Path,
    select: str,
    command: str = "build",
    dbt_vars: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    extra: Sequence[str] = (),
) -> Any:
    # cautious: a test runs only when every model it reads is selected (fct_daily_metrics reads the daily revenue
    # models, whose relationship tests also read dim_revenue_customers, which a product selection does not build).
    # The unit tests of the selected models run too: they pin every var they read, so they hold whatever window and
    # REPORTING_TIMEZONE a test builds with.
    return run_dbt(
        [command, "--select", select, "--quiet", "--indirect-selection", "cautious", *extra],
        target,
        dbt_vars=dbt_vars,
        target_path=target_path,
        env=env,
    )


def rows(target: Target, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[dict[str, Any]]:
    with psycopg.connect(target.conninfo, row_factory=dict_row) as conn:
        return list(conn.execute(sql, params).fetchall())


def one(target: Target, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> dict[str, Any]:
    found = rows(target, sql, params)
    assert len(found) == 1, f"expected one row, got {len(found)}: {sql} {params}"
    return found[0]


def daily(target: Target, tenant_id: str, day: str) -> dict[str, Any]:
    return one(
        target,
        "select * from marts.fct_daily_metrics where tenant_id = %s and metric_date = %s::date",
        (tenant_id, day),
    )
