"""Scale benchmark: the demo generator at >= 10 million api_requests, then the app extractor on the same files.

    python bench/generate.py [--api-rate 300] [--tenants 60] [--months 12] [--skip-extract]

Generates the demo company's app tables as CSV files (api_requests scaled by --api-rate, requests per active user
per day), printing rows, rate and the process's peak RSS, which must stay flat however many rows are written (the
generator streams). Then loads the folder through the app extractor into a throw-away embedded Postgres (or
WAREHOUSE_URL) and prints the same figures for the load.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._warehouse import bench_warehouse  # noqa: E402
from extract.app.extractor import extract_app  # noqa: E402
from extract.app.sources import FileSource  # noqa: E402
from extract.demo.generator import DemoCompany, DemoConfig  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=60)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--api-rate", type=float, default=300.0, help="API requests per active user per day")
    parser.add_argument("--skip-extract", action="store_true")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="execmetrics-bench-gen-"))
    os.chmod(work, 0o777)
    try:
        company = DemoCompany(
            DemoConfig(tenants=args.tenants, months=args.months, api_requests_per_active_user_day=args.api_rate)
        )
        print(f"before generating: peak RSS {peak_rss_mb():.0f} MB")
        t0 = time.perf_counter()
        counts = company.write_app_files(work / "src", fmt="csv")
        seconds = time.perf_counter() - t0
        size = sum(path.stat().st_size for path in (work / "src").iterdir()) / 1e6
        print(
            f"generated {sum(counts.values()):,} app rows ({counts['api_requests']:,} api_requests) in {seconds:.1f}s,"
            f" {sum(counts.values()) / seconds:,.0f} rows/s, {size:,.0f} MB of CSV; peak RSS {peak_rss_mb():.0f} MB"
        )
        if args.skip_extract:
            return

        with bench_warehouse(work, 54393) as (warehouse, _):
            t0 = time.perf_counter()
            result = extract_app(warehouse, FileSource(work / "src"), full_refresh=True)
            seconds = time.perf_counter() - t0
            print(
                f"extracted {result.loaded:,} rows ({result.rejected} rejected) in {seconds:.1f}s,"
                f" {result.loaded / seconds:,.0f} rows/s; peak RSS {peak_rss_mb():.0f} MB"
            )
            for name, table in result.tables.items():
                print(f"  {name:<13} {table.loaded:>12,} loaded")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
