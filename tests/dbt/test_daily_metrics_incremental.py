"""Incremental builds equal a full refresh: every row of the incremental product models.

Data: a small DemoCompany (extract.demo.generator) inserted straight into the raw tables. Build A is one full
build. Build B starts with a full refresh up to day D1 (data after D1 is ignored through max_date), then runs
one incremental window (D1+1 .. last day) as Dagster would, then re-runs an old one-day window (a backfill), then
runs without a window. B's windows reach dbt as Dagster passes them, in the environment (EXECMETRICS_MIN_DATE /
EXECMETRICS_MAX_DATE), so its runs keep one saved parse; the `--vars` window is tested in test_revenue_marts.py.
After each step B's models must equal A's, row for row.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.types.json import Jsonb
from test_product_helpers import dbt, fresh_warehouse, one, rows  # noqa: I001

from extract.warehouse import Target
from orchestration.partitions import WINDOW_ENV

DAILY_PARTS = ("spine", "customers", "engagement", "activation", "jobs", "api", "revenue", "revenue_changes")
MODELS = [
    "intermediate.int_user_daily_activity",
    *(f"intermediate.int_daily_{part}" for part in DAILY_PARTS),
    "marts.fct_daily_metrics",
    "marts.fct_metric_anomaly_scores",
    "marts.fct_metric_alerts",
]
SELECT = "+fct_daily_metrics +fct_metric_alerts"


def load_demo(target: Target) -> None:
    generator = pytest.importorskip("extract.demo.generator")
    company = generator.DemoCompany(
        generator.DemoConfig(tenants=6, months=2, end=date(2025, 3, 31), api_requests_per_active_user_day=1.0)
    )
    with psycopg.connect(target.conninfo, autocommit=True) as conn:
        for table in ("tenants", "users", "events", "jobs", "api_requests"):
            batch = list(company.iter_rows(table))
            if not batch:
                continue
            cols = list(batch[0])
            values = [[Jsonb(r[c]) if isinstance(r[c], dict) else r[c] for c in cols] + ["demo"] for r in batch]
            with conn.cursor() as cur:
                cur.executemany(
                    f"insert into raw.app_{table} ({', '.join(cols)}, _batch_id, _extracted_at) "
                    f"values ({', '.join(['%s'] * len(cols))}, %s, now()) on conflict do nothing",
                    values,
                )


def window(**bounds: str) -> dict[str, str]:
    """A window (min_date / max_date) as the environment a Dagster run hands dbt."""
    return {WINDOW_ENV[name]: value for name, value in bounds.items()}


def snapshot(target: Target) -> dict[str, list[tuple]]:
    out = {}
    for model in MODELS:
        out[model] = sorted((tuple(r.values()) for r in rows(target, f"select * from {model}")), key=repr)
    return out


@pytest.fixture(scope="module")
def pair(pg_server: Target, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Target, Target, Path]]:
    with fresh_warehouse(pg_server) as full, fresh_warehouse(pg_server) as incremental:
        load_demo(full)
        load_demo(incremental)
        yield full, incremental, Path(tmp_path_factory.mktemp("dbt_incr"))


def test_incremental_equals_full_refresh(pair: tuple[Target, Target, Path]) -> None:
    full, incremental, tmp = pair
    dbt(full, tmp / "a", SELECT, extra=["--exclude", "resource_type:test"])
    expected = snapshot(full)
    assert len(expected["marts.fct_daily_metrics"]) > 100 and expected["intermediate.int_user_daily_activity"]
    last = one(full, "select max(metric_date) d from marts.fct_daily_metrics")["d"]
    d1 = last - timedelta(days=12)

    # B: full refresh up to D1, then the window D1+1 .. last, as daily partitions would run
    dbt(
        incremental,
        tmp / "b",
        SELECT,
        env=window(max_date=d1.isoformat()),
        extra=["--full-refresh", "--exclude", "resource_type:test"],
    )
    assert one(incremental, "select max(metric_date) d from marts.fct_daily_metrics")["d"] == d1
    dbt(
        incremental,
        tmp / "b",
        SELECT,
        command="run",
        env=window(min_date=(d1 + timedelta(days=1)).isoformat(), max_date=last.isoformat()),
    )
    assert snapshot(incremental) == expected

    # a backfill of one old day leaves everything as it was
    old = (d1 - timedelta(days=20)).isoformat()
    dbt(incremental, tmp / "b", SELECT, command="run", env=window(min_date=old, max_date=old))
    assert snapshot(incremental) == expected

    # a run without a window (an analyst's `dbt run`) rebuilds from each model's last day built, to the last event
    dbt(incremental, tmp / "b", SELECT, command="run")
    assert snapshot(incremental) == expected


def test_days_only_activation_needs_keep_their_rows_unless_one_is_missing(pair: tuple[Target, Target, Path]) -> None:
    """int_daily_api (like _jobs and _engagement) rebuilds [min_date - lookback_days, max_date]; the older days of
    fct_daily_metrics' window (activation's margin) read the rows earlier runs built, unless a spine row of those days
    has none, in which case the model rebuilds the whole window."""
    full, incremental, tmp = pair
    dbt(full, tmp / "a2", SELECT, extra=["--exclude", "resource_type:test"])
    dbt(incremental, tmp / "c", SELECT, extra=["--full-refresh", "--exclude", "resource_type:test"])
    expected = snapshot(full)
    assert snapshot(incremental) == expected
    day = one(full, "select max(metric_date) d from marts.fct_daily_metrics")["d"] - timedelta(days=10)
    older, recent = day - timedelta(days=5), day - timedelta(days=2)  # in activation's margin / in the lookback
    api_all = "select api_requests n from {} where tenant_id = '__all__' and metric_date = %s"
    true_older = one(full, api_all.format("intermediate.int_daily_api"), [older])["n"]
    assert true_older > 0

    with psycopg.connect(incremental.conninfo, autocommit=True) as conn:
        conn.execute(
            "update intermediate.int_daily_api set api_requests = -1 where tenant_id = '__all__'"
            " and metric_date = any(%s)",
            [[older, recent]],
        )
    dbt(incremental, tmp / "c", SELECT, command="run", env=window(min_date=day.isoformat(), max_date=day.isoformat()))
    assert one(incremental, api_all.format("intermediate.int_daily_api"), [recent])["n"] > 0  # rebuilt
    assert one(incremental, api_all.format("intermediate.int_daily_api"), [older])["n"] == -1  # kept
    assert one(incremental, api_all.format("marts.fct_daily_metrics"), [older])["n"] == -1  # read from the kept row

    # a day of the window with no rows in the model (days skipped): the model rebuilds the whole window
    with psycopg.connect(incremental.conninfo, autocommit=True) as conn:
        conn.execute("delete from intermediate.int_daily_api where metric_date = %s", [older])
    dbt(incremental, tmp / "c", SELECT, command="run", env=window(min_date=day.isoformat(), max_date=day.isoformat()))
    assert one(incremental, api_all.format("marts.fct_daily_metrics"), [older])["n"] == true_older
    assert snapshot(incremental) == expected
