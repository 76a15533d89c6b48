"""Benchmark: one day of the large company (10,000 tenants, ~1M users, ~10M events and ~10M API requests a day at
scale 1) extracted and built through the daily Dagster job; goal <= 5 minutes wall at scale 1.

    .venv/bin/python bench/day.py [--scale 1.0] [--activity-days 31] [--work DIR [--reuse]]

Generates the company with the demo generator's large mode (DemoConfig.large: three years of tenants and users,
activity on the last 31 days), streamed by COPY into an app database (`bench_day_app`) and a Stripe dump; loads and
builds the 30 days before the last one (one backfill run: the history MAU reads; timed, not the goal); vacuums the
warehouse (what autovacuum does in the day between two scheduled runs; timed); then times the last day as the daily
schedule runs it (the daily job alone: extract app + Stripe, checks, dbt) with each step's time. Prints every figure
with the load average at that moment and the process's peak RSS, and each step's largest RSS (the Dagster steps run
in this process; Postgres is a server of its own). --scale multiplies the tenants (so
users, events, requests). `--work DIR` keeps the bench's folder; `--work DIR --reuse` then loads and builds the
warehouse again from the app database and the dump that run left (the same --scale), without generating the company
again: to compare code with code on the same company. `--activity-days N` gives the company activity on its last N
days only (the day and N - 1 before it; default 31): a shorter history for a size whose 31 days do not fit on the
disk, which it says as it starts, since the day's models that read MAU's 30-day window then read fewer days.
`--history-rate R` keeps all of them, with every session (who is active each day: what MAU reads), but gives the
prior days before the day before R x the per-user events and API requests (jobs follow the events): the history's
shape on a disk too small for its rows, which it says as it starts.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BENCH_DB = "bench_day"
BENCH_APP_DB = "bench_day_app"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


class RssSampler(threading.Thread):
    """This process's resident set every 0.2 s with the wall clock, to tell which step of a run held the most."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[tuple[float, float]] = []

    def run(self) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        while True:
            with open("/proc/self/statm") as statm:
                self.samples.append((time.time(), int(statm.read().split()[1]) * page / 2**20))
            time.sleep(0.2)

    def by_step(self, settings: Any, run_id: str) -> str:
        """The largest RSS sampled during each step of a run (the steps run in this process)."""
        from orchestration.ui import get_instance

        parts = []
        for step in get_instance(settings).get_run_step_stats(run_id):
            start, end = step.start_time or 0, step.end_time or time.time()
            peak = max((rss for at, rss in self.samples if start <= at <= end), default=0.0)
            parts.append(f"{step.step_key} {peak:.0f} MB")
        return "largest RSS by step: " + ", ".join(parts)


def load() -> str:
    return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="1 = 10,000 tenants; 0.1 = 1,000 tenants")
    parser.add_argument("--work", type=Path, help="the bench's folder (default: a new temporary one), kept")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the app database and the Stripe dump an earlier run at the same --scale left in --work: the"
        " warehouse is loaded and built again, the company is not generated again",
    )
    parser.add_argument(
        "--activity-days",
        type=int,
        default=31,
        help="days with activity, the measured day included (default 31: the day and the 30 MAU reads)",
    )
    parser.add_argument(
        "--history-rate",
        type=float,
        default=1.0,
        help="the per-user events and API requests of the prior days before the day before, as a fraction of the"
        " full rates (default 1); every session is kept",
    )
    args = parser.parse_args()
    if not 0 < args.history_rate <= 1:
        parser.error("--history-rate must be in (0, 1]")
    if args.activity_days < 2:
        parser.error("--activity-days must be at least 2 (the measured day and one before it)")
    if args.reuse and args.work is None:
        parser.error("--reuse needs --work (the folder of the run whose company it reuses)")

    from bench._warehouse import company_warehouse
    from bench.backfill import step_breakdown
    from extract.demo.generator import DemoCompany, DemoConfig
    from extract.settings import load_settings
    from extract.warehouse import Warehouse

    sampler = RssSampler()
    sampler.start()
    base = Warehouse(load_settings())
    base.ensure_running()
    work = args.work or Path(tempfile.mkdtemp(prefix="execmetrics-bench-day-"))
    work.mkdir(parents=True, exist_ok=True)
    thinned = args.history_rate < 1
    config = DemoConfig.large(
        scale=args.scale,
        activity_days=args.activity_days,
        full_rate_days=2 if thinned else None,
        history_rate=args.history_rate,
    )
    print(f"large company at scale {args.scale}: {config.tenants:,} tenants, activity {config.activity_days} days")
    if args.activity_days < 31:
        print(
            f"  note: {args.activity_days - 1} prior days, not 30: the day's models that read MAU's 30-day window"
            " read fewer days than the goal's company"
        )
    if thinned:
        print(
            f"  note: the {args.activity_days - 2} prior days before the day before carry {args.history_rate:g} x the"
            " per-user events and API requests (every session kept: the same active users each day); the day and"
            " the day before carry the full rates"
        )
    t0 = time.monotonic()
    company = DemoCompany(config)
    marker = work / "company"  # the scale and activity days of the company the app database and the dump hold
    shape = repr((args.scale, args.activity_days) + ((args.history_rate,) if thinned else ()))
    if args.reuse:
        if not marker.exists() or marker.read_text() != shape:
            print(
                f"error: {work} holds no company at scale {args.scale} with {args.activity_days} activity days"
                + (f" and history rate {args.history_rate:g}" if thinned else "")
                + " (run without --reuse)",
                file=sys.stderr,
            )
            return 1
    else:
        marker.unlink(missing_ok=True)
    counts, settings = company_warehouse(base, company, work, BENCH_DB, BENCH_APP_DB, reuse=args.reuse)
    marker.write_text(shape)
    day = company.end
    from psycopg import connect

    with connect(base.target.with_db(BENCH_APP_DB).conninfo) as conn:
        users = conn.execute("select count(*) from users").fetchone()[0]  # type: ignore[index]
        day_rows = {
            table: conn.execute(
                f"select count(*) from {table} where {column} >= %s and {column} < %s", (day, day + timedelta(days=1))
            ).fetchone()[0]  # type: ignore[index]
            for table, column in (("events", "occurred_at"), ("api_requests", "occurred_at"), ("jobs", "created_at"))
        }
    print(
        f"{'reused' if args.reuse else 'generated'} in {time.monotonic() - t0:.0f}s ({load()};"
        f" peak RSS {peak_rss_mb():.0f} MB): "
        + ", ".join(f"{k} {v:,}" for k, v in counts.items())
        + f"; users {users:,}; on {day}: "
        + ", ".join(f"{k} {v:,}" for k, v in day_rows.items())
    )

    from orchestration.definitions import build_definitions
    from orchestration.jobs import DAILY_JOB
    from orchestration.pipeline import PipelineResult, execute_range, run_pipeline
    from orchestration.ui import get_instance

    defs = build_definitions(settings)  # load (and dbt-parse) outside the timings
    first = day - timedelta(days=args.activity_days - 1)
    t0 = time.monotonic()
    prior = run_pipeline(settings, first, day - timedelta(days=1), include_monthly=False)
    print(
        f"the {args.activity_days - 1} prior days {first}..{day - timedelta(days=1)} (one backfill run, setup): "
        f"{time.monotonic() - t0:.0f}s ({load()}; peak RSS {peak_rss_mb():.0f} MB)"
    )
    for run in prior.runs:
        print(f"  {step_breakdown(settings, run.job, run.run_id, run.duration_s)}")
        print(f"  {sampler.by_step(settings, run.run_id)}")

    # The setup's tens of millions of new raw rows leave autovacuum a day's work, which it would have done in the
    # day between two scheduled runs; left to it, it ran beside the measured day (about a quarter of its extract).
    t0 = time.monotonic()
    with connect(base.target.with_db(BENCH_DB).conninfo, autocommit=True) as conn:
        conn.execute("vacuum (analyze)")
    print(f"the setup's vacuum (autovacuum's work between two days, done before the day): {time.monotonic() - t0:.0f}s")

    t0 = time.monotonic()
    scheduled = PipelineResult(day, day)
    execute_range(defs, DAILY_JOB, day.isoformat(), day.isoformat(), instance=get_instance(settings), result=scheduled)
    seconds = time.monotonic() - t0
    run = scheduled.runs[0]
    if not run.success:
        print(f"error: the daily run of {day} failed (run {run.run_id})", file=sys.stderr)
        return 1
    print(
        f"one day {day} through the daily job: {seconds:.0f}s wall (goal <= 300 s at scale 1; {load()};"
        f" peak RSS {peak_rss_mb():.0f} MB)"
    )
    print(f"  {step_breakdown(settings, run.job, run.run_id, run.duration_s)}")
    print(f"  {sampler.by_step(settings, run.run_id)}")
    return 0 if seconds <= 300 else 1


if __name__ == "__main__":
    raise SystemExit(main())
