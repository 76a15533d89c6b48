"""A demo-sized warehouse for the reporting-layer tests: the demo generator's company (small config, 14 months so the
latest month has a year-ago month to compare with), extracted and loaded as the pipeline does, built with `dbt build`
once per test session (the session-scoped fixture in conftest.py), and read by every card, export and summary test."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg

from extract.app.extractor import extract_app
from extract.app.sources import FileSource
from extract.settings import Settings
from extract.stripe.dump import load_dump
from extract.warehouse import Target, Warehouse
from orchestration.dbt_cli import run_dbt

TENANTS = 24
MONTHS = 14


@dataclass(frozen=True)
class DemoWarehouse:
    target: Target
    start: date
    end: date

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.target.conninfo, autocommit=True)


def build_demo_warehouse(
    target: Target, work_dir: Path, *, tenants: int = TENANTS, months: int = MONTHS
) -> DemoWarehouse:
    from extract.demo.generator import DemoCompany, DemoConfig

    config = DemoConfig(tenants=tenants, months=months)
    company = DemoCompany(config)
    app_dir, dump_dir = work_dir / "app", work_dir / "stripe"
    company.write_app_files(app_dir)
    company.write_stripe_dump(dump_dir)
    warehouse = Warehouse(Settings(warehouse_url=target.url))
    extract_app(warehouse, FileSource(app_dir), full_refresh=True)
    with psycopg.connect(target.conninfo) as conn:
        load_dump(conn, dump_dir)
        conn.commit()
    run_dbt(
        ["build", "--quiet", "--exclude-resource-type", "unit_test"],
        target,
        dbt_vars={"max_date": config.end.isoformat()},
        target_path=work_dir / "dbt_target",
    )
    return DemoWarehouse(target, config.start, config.end)
