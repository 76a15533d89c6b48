"""Ingest benchmark: the app extractor vs psql's \\copy on the same api_requests rows, and its peak memory.

    python bench/ingest.py [--rows 1000000] [--repeat 3] [--staged] [--database]
    python bench/ingest.py --memory [--rows 10000000] [--kinds good,unknown_tenant,malformed] [--database]

Rate: writes N generated api_requests to a CSV file, loads them through the extractor (validation, rejects, COPY)
into raw.app_api_requests, then loads the same file with `psql \\copy` into an identical table (same columns,
indexes and a batch id of the same length in every row), and prints both rates and their ratio. Goal: the
extractor reaches >= 0.9 of \\copy's rate. The file is plain CSV and every round a first load, so the extractor
copies it straight into the raw table; `--staged` measures the staging path instead (what a file with a bad row,
a quoted field or rows already in raw takes). `--database`: the extractor reads the same rows from an app database
(Postgres, its tables COPYed from the files; the source streams them with COPY ... TO STDOUT) instead of the files.

Memory (--memory): for each kind of file (every row good; every row rejected by Postgres's checks for an unknown
tenant; every row rejected by the source for a wrong number of fields), loads N rows through the extractor in a
process of its own and prints its time, its peak RSS (goal <= 300 MB) and the largest anonymous RSS of a Postgres
backend meanwhile (a server on this machine); with --database, the kinds a database can hold (not malformed).
Uses WAREHOUSE_URL if set, else a throw-away embedded Postgres (on --port).
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
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._warehouse import bench_warehouse  # noqa: E402
from extract.app.extractor import extract_app  # noqa: E402
from extract.app.sources import AppSource, TableRows, open_source  # noqa: E402
from extract.warehouse import ensure_raw_schema, new_batch_id  # noqa: E402

COLUMNS = ["id", "tenant_id", "user_id", "method", "route", "status_code", "duration_ms", "occurred_at"]
ROUTES = ["/v1/reports", "/v1/files", "/v1/worklogs", "/v1/users", "/v1/jobs/{id}", "/v1/search"]


KINDS = ("good", "unknown_tenant", "malformed")


def write_source(directory: Path, rows: int, tenants: int = 200, kind: str = "good") -> None:
    """tenants.csv and api_requests.csv; kind "unknown_tenant" names tenants not in tenants.csv, "malformed" gives
    every api_requests line one field too many."""
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
                    f"{'gone' if kind == 'unknown_tenant' else 'ten'}_{rng.randrange(tenants)}",
                    f"usr_{rng.randrange(5000)}",
                    rng.choice(("GET", "GET", "GET", "POST", "PATCH")),
                    rng.choice(ROUTES),
                    rng.choice((200, 200, 200, 200, 201, 204, 400, 404, 500)),
                    f"{rng.lognormvariate(3.5, 0.8):.3f}",
                    at.isoformat(),
                    *(["extra"] if kind == "malformed" else []),
                ]
            )


class Staged:
    """The same source, never offered for a direct COPY: the extractor stages and checks every row."""

    def __init__(self, source: AppSource):
        self.source = source
        self.description = source.description

    def has_table(self, table: str) -> bool:
        return self.source.has_table(table)

    def read(self, table: str, start: datetime | None, end: datetime | None) -> TableRows:
        rows = self.source.read(table, start, end)
        rows.plain = None
        return rows


APP_DB = "bench_ingest_app"


def app_database(wh: Any, source_dir: Path) -> str:
    """The files' rows COPYed into the tables of a fresh app database (the demo's app schema); its URL."""
    import psycopg

    from extract.demo.generator import APP_DDL

    wh.drop_database(APP_DB)
    wh.ensure_database(APP_DB, collation=None)  # an app's database: the server's defaults
    target = wh.target.with_db(APP_DB)
    with psycopg.connect(target.conninfo, autocommit=True) as conn:
        for table in ("tenants", "api_requests"):
            conn.execute(APP_DDL[table])
            with (source_dir / f"{table}.csv").open("rb") as handle:
                columns = handle.readline().decode().strip()
                with conn.cursor().copy(f"copy {table} ({columns}) from stdin with (format csv)") as copy:
                    while data := handle.read(1 << 20):
                        copy.write(data)
        conn.execute("create index on api_requests (occurred_at)")
        conn.execute("vacuum analyze")
    return str(target.url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="rounds of both loads; medians are compared")
    parser.add_argument("--staged", action="store_true", help="measure the extractor's staging path")
    parser.add_argument("--memory", action="store_true", help="peak memory per kind of rows instead of the rate")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"with --memory: some of {', '.join(KINDS)}")
    parser.add_argument("--database", action="store_true", help="read the rows from an app database, not files")
    parser.add_argument("--port", type=int, default=54391, help="the throw-away warehouse's port")
    args = parser.parse_args()
    if args.memory:
        kinds = [kind.strip() for kind in args.kinds.split(",") if kind.strip()]
        if args.database:
            kinds = [kind for kind in kinds if kind != "malformed"]  # a database holds no line with a field too many
        memory(args.rows, kinds, args.port, args.database)
        return

    work = Path(tempfile.mkdtemp(prefix="execmetrics-bench-"))
    os.chmod(work, 0o777)
    try:
        with bench_warehouse(work, args.port) as (wh, target):
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

            spec = app_database(wh, source_dir) if args.database else str(source_dir)
            extract_app(wh, open_source(spec), tables=["tenants"])
            from pgserver._commands import POSTGRES_BIN_PATH

            psql = str(POSTGRES_BIN_PATH / "psql")
            copy_cmd = (
                f"\\copy raw.bench_copy ({', '.join(COLUMNS)}) from '{source_dir / 'api_requests.csv'}'"
                " with (format csv, header true)"
            )

            # Each load starts from the same state: its table empty, the server checkpointed and every dirty page on
            # disk (os.sync), so that neither pays for the other's writeback; the order alternates by round. Medians
            # are compared: a 2-core machine's neighbours move single timings a lot.
            def settle(table: str) -> None:
                with wh.connect(autocommit=True) as conn:
                    conn.execute(f"truncate {table}")
                    conn.execute("delete from raw._watermarks where table_name = 'api_requests'")
                    conn.execute("checkpoint")
                os.sync()

            def extractor_load() -> float:
                settle("raw.app_api_requests")
                t0 = time.perf_counter()
                source = Staged(open_source(spec)) if args.staged else open_source(spec)
                result = extract_app(wh, source, tables=["api_requests"])
                seconds = time.perf_counter() - t0
                assert result.tables["api_requests"].loaded == args.rows, result
                return seconds

            def copy_load() -> float:
                settle("raw.bench_copy")
                t0 = time.perf_counter()
                subprocess.run(
                    [psql, target.conninfo, "-v", "ON_ERROR_STOP=1", "-c", copy_cmd], check=True, capture_output=True
                )
                seconds = time.perf_counter() - t0
                with wh.connect() as conn:
                    copied = conn.execute("select count(*) from raw.bench_copy").fetchone()[0]  # type: ignore[index]
                assert copied == args.rows
                return seconds

            extractor_times, copy_times = [], []
            for round_number in range(1, args.repeat + 1):
                if round_number % 2:
                    extractor_times.append(extractor_load())
                    copy_times.append(copy_load())
                else:
                    copy_times.append(copy_load())
                    extractor_times.append(extractor_load())
                print(f"round {round_number}: extractor {extractor_times[-1]:.2f}s, \\copy {copy_times[-1]:.2f}s")
            with wh.connect() as conn:
                conn.execute("drop table raw.bench_copy")
                conn.commit()

            extractor_s, copy_s = statistics.median(extractor_times), statistics.median(copy_times)
            extractor_rate, copy_rate = args.rows / extractor_s, args.rows / copy_s
            print(f"median of {args.repeat} rounds:")
            path = "staged and checked" if args.staged else "copied straight in, checked on the way and by COPY"
            path += ", from an app database" if args.database else ", from a CSV file"
            print(f"extractor : {extractor_s:6.2f}s  {extractor_rate:12,.0f} rows/s  ({path})")
            print(f"psql \\copy: {copy_s:6.2f}s  {copy_rate:12,.0f} rows/s")
            print(f"ratio     : {extractor_rate / copy_rate:.2f} of \\copy's rate (goal >= 0.90)")
            paired = statistics.median(c / e for e, c in zip(extractor_times, copy_times, strict=True))
            print(f"            {paired:.2f} as the median of each round's own ratio (its two loads side by side)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _load_in_child(url: str, source: str, answer: Any) -> None:
    """The extractor in a process of its own, so its peak RSS is the load's alone (plus the interpreter)."""
    import resource

    from extract.settings import Settings
    from extract.warehouse import Warehouse

    wh = Warehouse(Settings(warehouse_url=url))
    t0 = time.perf_counter()
    result = extract_app(wh, open_source(source), tables=["api_requests"])
    seconds = time.perf_counter() - t0
    table = result.tables["api_requests"]
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    answer.put((seconds, peak_kb * 1024, table.loaded, table.rejected, table.error))


def _anon_rss(pid: int) -> int:
    """A process's anonymous (private) RSS in bytes, 0 when it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    return 0


def _sample_postgres(url: str, done: Any, peaks: list[int]) -> None:
    """The largest anonymous RSS of a backend of this database until `done` (the server must be on this machine)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        while not done.wait(0.2):
            backends = conn.execute("select pid from pg_stat_activity where datname = current_database()")
            pids = [row[0] for row in backends]
            peaks[0] = max([peaks[0], *map(_anon_rss, pids)])


def memory(rows: int, kinds: list[str], port: int, database: bool = False) -> None:
    import multiprocessing
    import threading

    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown:
        raise SystemExit(f"error: unknown kind(s) {', '.join(unknown)}; expected some of {', '.join(KINDS)}")
    work = Path(tempfile.mkdtemp(prefix="execmetrics-bench-"))
    os.chmod(work, 0o777)
    try:
        with bench_warehouse(work, port) as (wh, _target):
            with wh.connect() as conn:
                ensure_raw_schema(conn)
                conn.commit()
            url = wh.target.url.replace("+psycopg", "")
            print(f"{'rows':<16} {'rows':>12} {'time':>8} {'extractor peak RSS':>19} {'backend peak anon RSS':>23}")
            for kind in kinds:
                with wh.connect() as conn:
                    conn.execute("truncate raw.app_api_requests, raw.app_tenants, raw._rejects, raw._watermarks")
                    conn.commit()
                source_dir = work / kind
                source_dir.mkdir()
                write_source(source_dir, rows, kind=kind)
                spec = app_database(wh, source_dir) if database else str(source_dir)
                extract_app(wh, open_source(spec), tables=["tenants"])
                done = threading.Event()
                peaks = [0]
                sampler = threading.Thread(target=_sample_postgres, args=(url, done, peaks), daemon=True)
                sampler.start()
                context = multiprocessing.get_context("spawn")
                answer = context.Queue()
                child = context.Process(target=_load_in_child, args=(url, spec, answer))
                child.start()
                seconds, peak, loaded, rejected, error = answer.get()
                child.join()
                done.set()
                sampler.join()
                if error:
                    raise SystemExit(f"error: the {kind} load failed: {error}")
                assert loaded + rejected == rows, (kind, loaded, rejected)
                print(
                    f"{kind:<16} {rows:>12,} {seconds:>7.1f}s {peak / 1e6:>16.0f} MB {peaks[0] / 1e6:>20.0f} MB"
                    f"   (loaded {loaded:,}, rejected {rejected:,})",
                    flush=True,
                )
                shutil.rmtree(source_dir, ignore_errors=True)
            print("goal: extractor peak RSS <= 300 MB for every kind")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
