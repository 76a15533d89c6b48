"""Ingest benchmark: the app extractor vs psql's \\copy on the same api_requests rows.

    python bench/ingest.py [--rows 1000000] [--repeat 3] [--staged]

Writes N generated api_requests to a CSV file, loads them through the extractor (validation, rejects, COPY)
into raw.app_api_requests, then loads the same file with `psql \\copy` into an identical table (same columns,
indexes and a batch id of the same length in every row), and prints both rates and their ratio. Goal: the
extractor reaches >= 0.9 of \\copy's rate. The file is plain CSV and every round a first load, so the extractor
copies it straight into the raw table; `--staged` measures the staging path instead (what a file with a bad row,
a quoted field or rows already in raw takes). Uses WAREHOUSE_URL if set, else a throw-away embedded Postgres.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._warehouse import bench_warehouse  # noqa: E402
from extract.app.extractor import extract_app  # noqa: E402
from extract.app.sources import FileSource, TableRows  # noqa: E402
from extract.warehouse import ensure_raw_schema, new_batch_id  # noqa: E402

COLUMNS = ["id", "tenant_id", "user_id", "method", "route", "status_code", "duration_ms", "occurred_at"]
ROUTES = ["/v1/reports", "/v1/files", "/v1/worklogs", "/v1/users", "/v1/jobs/{id}", "/v1/search"]


def write_source(directory: Path, rows: int, tenants: int = 200) -> None:
    rng = random.Random(7)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with (directory / "tenants.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["id", "name", "plan", "created_at", "updated_at", "stripe_customer_id", "is_internal", "deleted_at"]
        )
        for t in range(tenants):
            writer.writerow(
                [f"ten_{t}", f"Tenant {t}", "growth", start.isoformat(), start.isoformat(), "", "false", ""]
            )
    with (directory / "api_requests.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for i in range(rows):
            at = start + timedelta(seconds=i * 2.5)
            writer.writerow(
                [
                    f"req_{i:09d}",
                    f"ten_{rng.randrange(tenants)}",
                    f"usr_{rng.randrange(5000)}",
                    rng.choice(("GET", "GET", "GET", "POST", "PATCH")),
                    rng.choice(ROUTES),
                    rng.choice((200, 200, 200, 200, 201, 204, 400, 404, 500)),
                    f"{rng.lognormvariate(3.5, 0.8):.3f}",
                    at.isoformat(),
                ]
            )


class StagedFileSource(FileSource):
    """The same files, never offered for a direct COPY: the extractor stages and checks every row."""

    def read(self, table: str, start: datetime | None, end: datetime | None) -> TableRows:
        rows = super().read(table, start, end)
        rows.plain = None
        return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="rounds of both loads; medians are compared")
    parser.add_argument("--staged", action="store_true", help="measure the extractor's staging path")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="execmetrics-bench-"))
    os.chmod(work, 0o777)
    try:
        with bench_warehouse(work, 54391) as (wh, target):
            with wh.connect() as conn:
                ensure_raw_schema(conn)
                conn.execute("truncate raw.app_api_requests, raw.app_tenants, raw._watermarks")
                conn.execute("drop table if exists raw.bench_copy")
                conn.execute("create table raw.bench_copy (like raw.app_api_requests including all)")
                # Every row holds a batch id as long as the extractor's: the same bytes per row in both tables.
                conn.execute(
                    f"alter table raw.bench_copy alter _batch_id set default '{new_batch_id()}',"
                    " alter _extracted_at set default now()"
                )
                conn.commit()
            source_dir = work / "src"
            source_dir.mkdir()
            t0 = time.perf_counter()
            write_source(source_dir, args.rows)
            print(
                f"generated {args.rows:,} api_requests in {time.perf_counter() - t0:.1f}s "
                f"({(source_dir / 'api_requests.csv').stat().st_size / 1e6:.0f} MB CSV)"
            )

            extract_app(wh, FileSource(source_dir), tables=["tenants"])
            from pgserver._commands import POSTGRES_BIN_PATH

            psql = str(POSTGRES_BIN_PATH / "psql")
            copy_cmd = (
                f"\\copy raw.bench_copy ({', '.join(COLUMNS)}) from '{source_dir / 'api_requests.csv'}'"
                " with (format csv, header true)"
            )
            # Alternate the two loads and compare medians: a 2-core machine's neighbours move single timings a lot.
            extractor_times, copy_times = [], []
            for round_number in range(1, args.repeat + 1):
                with wh.connect() as conn:
                    conn.execute("truncate raw.app_api_requests, raw.bench_copy")
                    conn.execute("delete from raw._watermarks where table_name = 'api_requests'")
                    conn.commit()
                t0 = time.perf_counter()
                source = StagedFileSource(source_dir) if args.staged else FileSource(source_dir)
                result = extract_app(wh, source, tables=["api_requests"])
                extractor_times.append(time.perf_counter() - t0)
                assert result.tables["api_requests"].loaded == args.rows, result

                t0 = time.perf_counter()
                subprocess.run(
                    [psql, target.conninfo, "-v", "ON_ERROR_STOP=1", "-c", copy_cmd], check=True, capture_output=True
                )
                copy_times.append(time.perf_counter() - t0)
                with wh.connect() as conn:
                    copied = conn.execute("select count(*) from raw.bench_copy").fetchone()[0]  # type: ignore[index]
                assert copied == args.rows
                print(f"round {round_number}: extractor {extractor_times[-1]:.2f}s, \\copy {copy_times[-1]:.2f}s")
            with wh.connect() as conn:
                conn.execute("drop table raw.bench_copy")
                conn.commit()

            extractor_s, copy_s = statistics.median(extractor_times), statistics.median(copy_times)
            extractor_rate, copy_rate = args.rows / extractor_s, args.rows / copy_s
            print(f"median of {args.repeat} rounds:")
            path = "staged and checked" if args.staged else "copied straight in, checked by COPY"
            print(f"extractor : {extractor_s:6.2f}s  {extractor_rate:12,.0f} rows/s  ({path})")
            print(f"psql \\copy: {copy_s:6.2f}s  {copy_rate:12,.0f} rows/s")
            print(f"ratio     : {extractor_rate / copy_rate:.2f} of \\copy's rate (goal >= 0.90)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
