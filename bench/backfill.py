"""Benchmark: one daily partition vs a 365-day backfill, through the same Dagster definitions, on demo data.

    .venv/bin/python bench/backfill.py [--tenants 60] [--days 365]

Creates its own databases on the warehouse server (`bench_backfill`, `bench_backfill_app`; dropped first) and a
temporary DAGSTER_HOME, generates the demo company, then times (1) one day in the middle of the year as a fresh
partition, (2) the whole range as one backfill (one daily run + one monthly run), (3) the same day again.
Prints the figures and the ratio year / one day (goal: <= 15).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BENCH_DB = "bench_backfill"
BENCH_APP_DB = "bench_backfill_app"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=60)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    from extract.settings import Settings, reset_settings
    from extract.warehouse import Warehouse, ensure_raw_schema

    base = Warehouse(Settings())
    base.ensure_running()
    for db in (BENCH_DB, BENCH_APP_DB):
        base.drop_database(db)
        base.ensure_database(db)
    work = Path(tempfile.mkdtemp(prefix="execmetrics-bench-"))

    from extract.demo.generator import DemoCompany, DemoConfig

    months = (args.days + 30) // 31 + 1
    company = DemoCompany(DemoConfig(tenants=args.tenants, months=months, seed=args.seed))
    end = company.end
    start = end - timedelta(days=args.days - 1)
    began = time.monotonic()
    counts = company.write_app_database(base.target.with_db(BENCH_APP_DB).conninfo)
    company.write_stripe_dump(work / "stripe")
    print(
        f"demo data: {args.tenants} tenants, {company.start}..{company.end}: "
        + ", ".join(f"{k} {v:,}" for k, v in counts.items())
        + f" ({time.monotonic() - began:.0f}s)"
    )

    os.environ.update(
        {
            "WAREHOUSE_URL": base.target.with_db(BENCH_DB).url.replace("+psycopg", ""),
            "APP_DATABASE_URL": base.target.with_db(BENCH_APP_DB).url,
            "STRIPE_DUMP_DIR": str(work / "stripe"),
            "DAGSTER_HOME": str(work / "dagster_home"),
            "OUTPUT_DIR": str(work / "out"),
            "PARTITIONS_START_DATE": company.start.isoformat(),
            "COMPANY_FOUNDED_DATE": company.start.isoformat(),
        }
    )
    os.environ.pop("STRIPE_API_KEY", None)
    reset_settings()
    with Warehouse().connect() as conn:
        ensure_raw_schema(conn)

    from orchestration.definitions import build_definitions
    from orchestration.pipeline import run_pipeline

    build_definitions()  # load (and dbt-parse) outside the timings

    def timed(label: str, first: date, last: date) -> float:
        t0 = time.monotonic()
        result = run_pipeline(first, last)
        seconds = time.monotonic() - t0
        runs = ", ".join(f"{r.job} {r.duration_s:.1f}s" for r in result.runs)
        print(f"{label:<34} {seconds:8.1f}s   ({(last - first).days + 1} days; runs: {runs})")
        return seconds

    middle = start + timedelta(days=args.days // 2)
    one_day = timed(f"one day {middle} (fresh)", middle, middle)
    year = timed(f"backfill {start}..{end}", start, end)
    again = timed(f"one day {middle} (rerun)", middle, middle)
    ratio = year / one_day
    print(
        f"\nratio backfill / one day = {ratio:.1f}  (goal <= 15; {args.days} one-day runs would take "
        f"~{one_day * args.days / 60:.0f} min vs {year / 60:.1f} min); rerun of a built day {again:.1f}s"
    )
    return 0 if ratio <= 15 else 1


if __name__ == "__main__":
    raise SystemExit(main())
