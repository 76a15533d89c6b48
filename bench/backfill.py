"""Benchmark: one daily partition vs a 365-day backfill, and the scheduled daily run, through the same Dagster
definitions, on demo data.

    .venv/bin/python bench/backfill.py [--tenants 60] [--days 365]

Creates its own databases on the warehouse server (`bench_backfill`, `bench_backfill_app`; dropped first) and a
temporary DAGSTER_HOME, generates the demo company, then times (1) one day in the middle of the year as a fresh
partition, (2) the range up to the day before its last day as one backfill (one daily run + one monthly run),
(3) the last day as the daily schedule runs it (the daily job alone, on a warehouse built up to the day before;
goal <= 20 s), (4) the middle day again. Prints each run's time, its steps' times (and dbt's own split: parse and
start-up, nodes, Dagster events), and the ratio backfill / one day (goal: <= 3).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BENCH_DB = "bench_backfill"
BENCH_APP_DB = "bench_backfill_app"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=60)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    from bench._warehouse import company_warehouse
    from extract.demo.generator import DemoCompany, DemoConfig
    from extract.settings import load_settings
    from extract.warehouse import Warehouse

    base = Warehouse(load_settings())
    base.ensure_running()
    work = Path(tempfile.mkdtemp(prefix="execmetrics-bench-"))
    months = (args.days + 30) // 31 + 1
    company = DemoCompany(DemoConfig(tenants=args.tenants, months=months, seed=args.seed))
    end = company.end
    start = end - timedelta(days=args.days - 1)
    began = time.monotonic()
    counts, settings = company_warehouse(base, company, work, BENCH_DB, BENCH_APP_DB)
    print(
        f"demo data: {args.tenants} tenants, {company.start}..{company.end}: "
        + ", ".join(f"{k} {v:,}" for k, v in counts.items())
        + f" ({time.monotonic() - began:.0f}s)"
    )

    from orchestration.definitions import build_definitions
    from orchestration.pipeline import run_pipeline

    defs = build_definitions(settings)  # load (and dbt-parse) outside the timings

    from orchestration.jobs import DAILY_JOB
    from orchestration.pipeline import PipelineResult, execute_range
    from orchestration.ui import get_instance

    breakdowns: list[str] = []

    def timed(label: str, first: date, last: date) -> float:
        t0 = time.monotonic()
        result = run_pipeline(settings, first, last)
        seconds = time.monotonic() - t0
        runs = ", ".join(f"{r.job} {r.duration_s:.1f}s" for r in result.runs)
        breakdowns.extend(f"  {label}: {step_breakdown(settings, r.job, r.run_id, r.duration_s)}" for r in result.runs)
        print(f"{label:<34} {seconds:8.1f}s   ({(last - first).days + 1} days; runs: {runs})")
        return seconds

    middle = start + timedelta(days=args.days // 2)
    one_day = timed(f"one day {middle} (fresh)", middle, middle)
    year = timed(f"backfill {start}..{end - timedelta(days=1)}", start, end - timedelta(days=1))
    # The daily schedule: the daily job alone for the newest day, the day before already built.
    t0 = time.monotonic()
    scheduled = PipelineResult(end, end)
    execute_range(defs, DAILY_JOB, end.isoformat(), end.isoformat(), instance=get_instance(settings), result=scheduled)
    scheduled_s = time.monotonic() - t0
    run = scheduled.runs[0]
    if not run.success:
        print(f"error: the scheduled daily run of {end} failed (run {run.run_id})", file=sys.stderr)
        return 1
    breakdowns.append(f"  scheduled day {end}: {step_breakdown(settings, run.job, run.run_id, scheduled_s)}")
    print(f"{f'scheduled daily run {end}':<34} {scheduled_s:8.1f}s   (daily job; goal <= 20 s)")
    again = timed(f"one day {middle} (rerun)", middle, middle)
    ratio = year / one_day
    print(
        "\nwhere the time goes (Dagster steps; dbt = parse and start-up + nodes + events and row counts;"
        " outside the steps = creating the run and its planned events, starting and ending it):"
    )
    print("\n".join(breakdowns))
    print(
        f"\nratio backfill / one day = {ratio:.1f}  (goal <= 3; {args.days} one-day runs would take "
        f"~{one_day * args.days / 60:.0f} min vs {year / 60:.1f} min); scheduled daily run {scheduled_s:.1f}s "
        f"(goal <= 20 s); rerun of a built day {again:.1f}s"
    )
    return 0 if ratio <= 3 and scheduled_s <= 20 else 1


def step_breakdown(settings: Any, job: str, run_id: str, wall_s: float) -> str:
    """A run's steps with their times; a dbt step also with dbt's own split (from its run_results.json); then the
    run's time outside its steps (creating the run and its planned events, starting and ending it)."""
    import json

    from orchestration.assets.dbt import dbt_project
    from orchestration.ui import get_instance

    parts = []
    in_steps = 0.0
    project = dbt_project(settings)
    for step in get_instance(settings).get_run_step_stats(run_id):
        seconds = (step.end_time or 0) - (step.start_time or 0)
        in_steps += seconds
        text = f"{step.step_key} {seconds:.1f}s"
        found = sorted(
            (project.project_dir / project.target_path).glob(f"{step.step_key}-{run_id[:7]}-*/run_results.json")
        )
        if found:
            results = json.loads(found[-1].read_text())
            nodes = float(results.get("elapsed_time", 0.0))
            log = (
                (found[-1].parent / "dbt.log").read_text(errors="replace")
                if (found[-1].parent / "dbt.log").exists()
                else ""
            )
            parse = "full parse" if "Starting full parse" in log else "partial parse"
            text += f" [{parse}; dbt nodes {nodes:.1f}s, the rest {seconds - nodes:.1f}s]"
        parts.append(text)
    parts.append(f"outside the steps {wall_s - in_steps:.1f}s")
    return f"{job}: " + ", ".join(parts)


if __name__ == "__main__":
    raise SystemExit(main())
