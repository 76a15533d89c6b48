"""Daily incremental runs equal a full refresh on the demo company's Stripe dump (extract.demo.generator, small
config): the ledger, the movements and the monthly metrics are identical, row for row. Each run's window reaches
dbt as Dagster passes it, in the environment (EXECMETRICS_MIN_DATE / EXECMETRICS_MAX_DATE): the runs keep one saved
parse."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from extract.stripe.dump import load_dump
from extract.warehouse import Warehouse
from orchestration.dbt_cli import run_dbt
from orchestration.partitions import WINDOW_ENV

pytestmark = pytest.mark.slow

SELECT = ["--select", "+fct_revenue_monthly +fct_mrr_daily", "--exclude-resource-type", "test"]


def snapshot(warehouse: Warehouse) -> dict[str, set[tuple[Any, ...]]]:
    with psycopg.connect(warehouse.target.conninfo) as conn:
        return {
            table: set(conn.execute(f"select * from marts.{table}").fetchall())
            for table in ("fct_mrr_daily", "fct_mrr_movements", "fct_revenue_monthly")
        }


def test_demo_daily_runs_equal_full_refresh(warehouse: Warehouse, tmp_path: Path) -> None:
    generator = pytest.importorskip("extract.demo.generator")
    config = generator.DemoConfig(tenants=40, months=8)
    generator.DemoCompany(config).write_stripe_dump(tmp_path / "dump")
    with warehouse.connect() as conn:
        result = load_dump(conn, tmp_path / "dump")
        conn.commit()
    assert result.total_loaded > 0 and result.rejected == 0, result.reject_reasons
    end = config.end
    target_path = tmp_path / "dbt_target"

    def dbt(args: list[str], window: dict[str, str]) -> None:
        env = {WINDOW_ENV[name]: value for name, value in window.items()}
        run_dbt([*args, *SELECT], warehouse.target, target_path=target_path, env=env)

    dbt(["build", "--full-refresh"], {"max_date": (end - timedelta(days=2)).isoformat()})
    for day in (end - timedelta(days=1), end):
        dbt(["build"], {"min_date": day.isoformat(), "max_date": day.isoformat()})
    incremental = snapshot(warehouse)
    dbt(["build", "--full-refresh"], {"max_date": end.isoformat()})
    full = snapshot(warehouse)

    assert len(full["fct_mrr_daily"]) > 100 and any(row[1] == "__all__" for row in full["fct_revenue_monthly"])
    for table in full:
        assert incremental[table] == full[table], table
