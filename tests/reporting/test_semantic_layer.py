"""The dbt semantic layer gives the tiles' numbers: `mf query` (dbt-metricflow, the CLI an analyst runs) over the
semantic models of the reporting layer agrees with rpt_kpi_periods and rpt_revenue_monthly, the tables every
dashboard card and the board pack read."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from extract.settings import PROJECT_ROOT
from orchestration.dbt_cli import dbt_base_env, run_dbt

pytestmark = pytest.mark.slow

MF = Path(sys.executable).parent / "mf"
ALL = "{{ Dimension('kpi_period__tenant_id') }} = '__all__'"


def mf_query(demo_warehouse, tmp_path: Path, metrics: str, group_by: str, where: str) -> list[dict[str, str]]:
    out = tmp_path / f"{metrics.replace(',', '_')}.csv"
    env = {**os.environ, **dbt_base_env(demo_warehouse.target)}
    proc = subprocess.run(
        [
            str(MF),
            "query",
            "--metrics",
            metrics,
            "--group-by",
            group_by,
            "--where",
            where,
            "--csv",
            str(out),
            "--quiet",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0 and out.exists(), proc.stdout[-2000:] + proc.stderr[-2000:]
    with out.open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def parsed(demo_warehouse):
    if not MF.exists() and shutil.which("mf") is None:
        pytest.skip("dbt-metricflow (mf) is not installed")
    # mf reads the project's semantic manifest from target/, where dbt parse (as an analyst runs it) writes it
    run_dbt(["parse", "--quiet"], demo_warehouse.target)
    assert (PROJECT_ROOT / "target" / "semantic_manifest.json").exists()
    return demo_warehouse


def test_mf_query_gives_the_tiles_numbers_by_month(parsed, tmp_path: Path) -> None:
    rows = mf_query(parsed, tmp_path, "mrr,arr,paying_customers,job_success_rate,signups", "metric_time__month", ALL)
    assert len(rows) >= 12
    with parsed.connect() as conn:
        tiles = {
            r[0].isoformat(): r[1:]
            for r in conn.execute(
                "select period_start, mrr, arr, paying_customers, job_success_rate, signups"
                " from reporting.rpt_kpi_periods where grain = 'month' and tenant_id = '__all__'"
            )
        }
    assert len(tiles) == len(rows)
    for row in rows:
        month = row["metric_time__month"][:10]
        mrr, arr, paying, success, signups = tiles[month]
        assert Decimal(row["mrr"]) == mrr, month  # MRR of the month's last loaded day, as the tile
        assert Decimal(row["arr"]) == arr and int(row["paying_customers"]) == paying
        assert round(float(row["job_success_rate"]), 6) == float(success)
        assert int(row["signups"]) == signups


def test_mf_query_by_tenant_name_and_day(parsed, tmp_path: Path) -> None:
    with parsed.connect() as conn:
        name, tenant_id, day, mrr = conn.execute(
            "select tenant_name, tenant_id, period_start, mrr from reporting.rpt_kpi_periods"
            " where grain = 'day' and not is_all_tenants and mrr > 0 order by period_start desc, mrr desc limit 1"
        ).fetchone()
    where = f"{{{{ Dimension('kpi_period__tenant_name') }}}} = '{name}'"
    rows = mf_query(parsed, tmp_path, "mrr", "metric_time__day,kpi_period__tenant_name", where)
    latest = next(r for r in rows if r["metric_time__day"][:10] == day.isoformat())
    assert latest["kpi_period__tenant_name"] == name and Decimal(latest["mrr"]) == mrr, tenant_id


def test_mf_query_gives_the_closed_months_movements(parsed, tmp_path: Path) -> None:
    where = "{{ Dimension('revenue_month__tenant_id') }} = '__all__'"
    rows = mf_query(parsed, tmp_path, "new_paying_customers,paying_customers_lost", "metric_time__month", where)
    with parsed.connect() as conn:
        months = {
            r[0].isoformat(): r[1:]
            for r in conn.execute(
                "select month, new_paying_customers, paying_customers_lost from reporting.rpt_revenue_monthly"
                " where tenant_id = '__all__'"
            )
        }
    assert rows and all(
        (int(r["new_paying_customers"]), int(r["paying_customers_lost"])) == months[r["metric_time__month"][:10]]
        for r in rows
    )
