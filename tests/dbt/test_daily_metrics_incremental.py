"""Incremental builds equal a full refresh: every row of the incremental product models.

Data: a small DemoCompany (extract.demo.generator) inserted straight into the raw tables. Build A is one full
build. Build B starts with a full refresh up to day D1 (data after D1 is ignored through max_date), then runs
one incremental window (D1+1 .. last day) as Dagster would, then re-runs an old one-day window (a backfill), then
runs without a window. B's windows reach dbt as Dagster passes them, in the environment (EXECMETRICS_MIN_DATE /
EXECMETRICS_MAX_DATE), so its runs keep one saved parse; the `--vars` window is tested in test_revenue_marts.py.
After each step B's models must equal A's, row for row.
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.types.json import Jsonb
from test_product_helpers import dbt, fresh_warehouse, insert, one, rows  # noqa: I001

from extract.warehouse import Target
from orchestration.dbt_cli import DbtError
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


def load_late_row(
    target: Target,
    table: str,
    day: date,
    tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
    window: tuple[datetime | None, datetime | None] = (None, None),
    **changes: object,
) -> None:
    """One more counted row of `table` (a copy of one of `day`'s, under a new id, with `changes`), loaded by the app
    extractor (for `window`, when given): its batch is recorded as every load's is."""
    from extract.app.extractor import extract_app
    from extract.app.sources import open_source
    from extract.settings import Settings
    from extract.tables import APP_TABLES
    from extract.warehouse import Warehouse

    spec = APP_TABLES[table]
    names = spec.column_names
    start = datetime.combine(day, time(), tzinfo=UTC)
    counted = "tenant_id in (select tenant_id from intermediate.int_tenants_classified where is_counted)"
    if "user_id" in names:
        counted += " and user_id in (select user_id from intermediate.int_users_classified where is_counted)"
    day_column = "created_at" if table == "jobs" else "occurred_at"
    source = tmp / f"late_{table}"
    source.mkdir(exist_ok=True)
    with psycopg.connect(target.conninfo) as conn:
        copied = conn.execute(
            f"select {', '.join(names)} from raw.app_{table} where {day_column} >= %s and {day_column} < %s"
            f" and {counted} order by id limit 1",
            [start, start + timedelta(days=1)],
        ).fetchone()
    assert copied is not None
    late = {**dict(zip(names, copied, strict=True)), "id": "late_" + uuid.uuid4().hex[:8], **changes}
    with open(source / f"{table}.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=names)
        writer.writeheader()
        writer.writerow({name: "" if value is None else str(value) for name, value in late.items()})
    monkeypatch.setenv("WAREHOUSE_URL", target.url.replace("+psycopg", ""))
    result = extract_app(Warehouse(Settings()), open_source(source), start=window[0], end=window[1], tables=[table])
    assert result.tables[table].loaded == 1 and not result.failed, result


def test_a_run_rebuilds_its_own_days_and_the_days_loads_reached(
    pair: tuple[Target, Target, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """int_daily_api (like _jobs, _engagement and int_user_daily_activity) rebuilds its window's days and, before them,
    the days a load of its raw table reached since its last build (at most lookback_days before); the older days keep
    the rows earlier runs built, and fct_daily_metrics reads those, unless a spine row of the window has none, in
    which case the model rebuilds the whole window. A build that fails does not count as having seen a load."""
    full, incremental, tmp = pair
    dbt(full, tmp / "a2", SELECT, extra=["--exclude", "resource_type:test"])
    dbt(incremental, tmp / "c", SELECT, extra=["--full-refresh", "--exclude", "resource_type:test"])
    expected = snapshot(full)
    assert snapshot(incremental) == expected
    day = one(full, "select max(metric_date) d from marts.fct_daily_metrics")["d"] - timedelta(days=10)
    older, recent = day - timedelta(days=5), day - timedelta(days=2)  # in activation's margin / in the lookback
    api_all = "select api_requests n from {} where tenant_id = '__all__' and metric_date = %s"
    true_older, true_recent = (
        one(full, api_all.format("intermediate.int_daily_api"), [d])["n"] for d in (older, recent)
    )
    assert true_older > 0 and true_recent > 0
    run_day = window(min_date=day.isoformat(), max_date=day.isoformat())

    def spoil(*days: date) -> None:
        with psycopg.connect(incremental.conninfo, autocommit=True) as conn:
            conn.execute(
                "update intermediate.int_daily_api set api_requests = -1 where tenant_id = '__all__'"
                " and metric_date = any(%s)",
                [list(days)],
            )

    def built(day: date) -> int:
        return int(one(incremental, api_all.format("intermediate.int_daily_api"), [day])["n"])

    # nothing loaded since the last build: the run rebuilds its own day only
    spoil(older, recent, day)
    dbt(incremental, tmp / "c", SELECT, command="run", env=run_day)
    assert built(day) > 0  # its own day
    assert built(recent) == -1 and built(older) == -1  # kept
    assert one(incremental, api_all.format("marts.fct_daily_metrics"), [older])["n"] == -1  # read from the kept row

    # a late request loaded for `recent`: the next run rebuilds from that day, not from the lookback's first
    recent_start = datetime.combine(recent, time(), tzinfo=UTC)
    load_late_row(
        incremental, "api_requests", recent, tmp, monkeypatch, (recent_start, recent_start + timedelta(days=1))
    )
    spoil(recent - timedelta(days=1))
    # ... but a build that fails has not seen it
    with psycopg.connect(incremental.conninfo, autocommit=True) as conn:
        conn.execute(
            "alter table intermediate.int_daily_api add constraint refuse_recent"
            f" check (metric_date <> '{recent}') not valid"
        )
    with pytest.raises(DbtError, match="refuse_recent"):
        dbt(incremental, tmp / "c", "int_daily_api", command="run", env=run_day)
    with psycopg.connect(incremental.conninfo, autocommit=True) as conn:
        conn.execute("alter table intermediate.int_daily_api drop constraint refuse_recent")
    dbt(incremental, tmp / "c", SELECT, command="run", env=run_day)
    assert built(recent) == true_recent + 1  # rebuilt, with the late request
    assert built(recent - timedelta(days=1)) == -1 and built(older) == -1  # before the load's day: kept

    # the load is seen: the run after rebuilds its own day only again
    spoil(recent)
    dbt(incremental, tmp / "c", SELECT, command="run", env=run_day)
    assert built(recent) == -1

    # a job's version, loaded from the last watermark (days after `recent`), counts on the day the job was created
    jobs_all = "select jobs_created n from intermediate.int_daily_jobs where tenant_id = '__all__' and metric_date = %s"
    jobs_recent = one(incremental, jobs_all, [recent])["n"]
    with psycopg.connect(incremental.conninfo, autocommit=True) as conn:
        conn.execute(
            "insert into raw._watermarks (source, table_name, watermark)"
            " select 'app', 'jobs', max(updated_at) from raw.app_jobs"
            " on conflict (source, table_name) do update set watermark = excluded.watermark"
        )
        last_update = conn.execute("select max(updated_at) from raw.app_jobs").fetchone()[0]
    load_late_row(incremental, "jobs", recent, tmp, monkeypatch, updated_at=last_update + timedelta(minutes=1))
    dbt(incremental, tmp / "c", SELECT, command="run", env=run_day)
    assert one(incremental, jobs_all, [recent])["n"] == jobs_recent + 1

    # a day of the window with no rows in the model (days skipped): the model rebuilds the whole window
    with psycopg.connect(incremental.conninfo, autocommit=True) as conn:
        conn.execute("delete from intermediate.int_daily_api where metric_date = %s", [older])
    dbt(incremental, tmp / "c", SELECT, command="run", env=run_day)
    assert one(incremental, api_all.format("marts.fct_daily_metrics"), [older])["n"] == true_older
    assert built(recent) == true_recent + 1

    # a warehouse whose loads do not record their transaction yet (no extract since the upgrade): the lookback again
    with psycopg.connect(incremental.conninfo, autocommit=True) as conn:
        conn.execute("alter table raw._batches drop column xact")
    spoil(recent)
    dbt(incremental, tmp / "c", SELECT, command="run", env=run_day)
    assert built(recent) == true_recent + 1


def plan_nodes(plan: dict) -> Iterator[dict]:
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


@contextmanager
def last_days_scans(
    pg_server: Target, tmp_path: Path, model: str, raw_table: str, insert_sql: str, *, run: bool = False
) -> Iterator[tuple[Target, list[dict]]]:
    """A warehouse with tenant t1 and `insert_sql`'s rows in raw.`raw_table` (analyzed), `model` built up to
    2025-03-20, and the nodes that scan raw.`raw_table` in the plan of its run of that day alone (`explain`, with
    `analyze` when `run`; no parallel workers: the whole table's figures, not a worker's share)."""
    with fresh_warehouse(pg_server) as target:
        with psycopg.connect(target.conninfo, autocommit=True) as conn:
            insert(conn, "app_tenants", [{"id": "t1", "created_at": datetime(2025, 3, 1, tzinfo=UTC)}])
            conn.execute(insert_sql)
            conn.execute(f"analyze raw.{raw_table}")
        last = "2025-03-20"
        dbt(target, tmp_path, f"+{model}", command="run", env=window(max_date=last))
        dbt(target, tmp_path, model, command="compile", env=window(min_date=last, max_date=last))
        [compiled] = (tmp_path / "compiled").rglob(f"{model}.sql")
        with psycopg.connect(target.conninfo) as conn:
            conn.execute("set max_parallel_workers_per_gather = 0")
            explain = "explain (analyze, format json)" if run else "explain (format json)"
            [(plan,)] = conn.execute(f"{explain} {compiled.read_text()}").fetchall()
        yield target, [node for node in plan_nodes(plan[0]["Plan"]) if node.get("Relation Name") == raw_table]


def test_the_planner_knows_how_many_raw_rows_a_days_run_reads(pg_server: Target, tmp_path: Path) -> None:
    """int_daily_api filters raw on the window's days as constants (as int_daily_jobs does), so Postgres estimates the
    day's requests from the statistics. Through a CTE of the window's bounds it took 0.5 % of the table whatever the
    window: at scale 1 with one day of history, 56k requests for the day's 11.25M, and it hashed the requests instead
    of the excluded users (the parallel hash then failed). Here: 20 days of 2,000 requests a day."""
    requests = (
        "insert into raw.app_api_requests (id, tenant_id, method, route, status_code, duration_ms, occurred_at,"
        " _batch_id, _extracted_at)"
        " select 'r' || n, 't1', 'GET', '/a', 200, 5,"
        "  timestamptz '2025-03-01 00:00Z' + n * interval '1 day' / 2000, 'test', now()"
        " from generate_series(0, 20 * 2000 - 1) as n"
    )
    with last_days_scans(pg_server, tmp_path, "int_daily_api", "app_api_requests", requests) as (_, scans):
        assert scans and all(1000 <= node["Plan Rows"] <= 4000 for node in scans), scans  # 2,000 that day


def test_a_days_run_reads_the_job_versions_of_its_window_only(pg_server: Target, tmp_path: Path) -> None:
    """int_daily_jobs takes the latest versions of the versions from the window's first day on, on both sides of the
    anti join (macros/latest_versions.sql, since): a newer version of one of them is later still. Through
    stg_app__jobs the join read every version ever loaded: at scale 1 a seq scan of all of raw.app_jobs beside the
    day's 3.4M versions, which grows with the history. Here: 20 days of 1,000 jobs, each queued, then succeeded a
    minute later (40,000 versions); the run of the last day reads its 2,000 on each side."""
    jobs = (
        "insert into raw.app_jobs (id, tenant_id, job_type, status, created_at, started_at, finished_at,"
        " updated_at, _batch_id, _extracted_at)"
        " select 'j' || n, 't1', 'export', v.status, c.at, c.at, v.finished, coalesce(v.finished, c.at),"
        "  'test', now()"
        " from generate_series(0, 20 * 1000 - 1) as n,"
        "  lateral (select timestamptz '2025-03-01 00:00Z' + n * interval '1 day' / 1000 as at) as c,"
        "  lateral (values ('queued', null::timestamptz), ('succeeded', c.at + interval '1 minute'))"
        "   as v (status, finished)"
    )
    with last_days_scans(pg_server, tmp_path, "int_daily_jobs", "app_jobs", jobs, run=True) as (target, scans):
        built = "select jobs_total n from intermediate.int_daily_jobs where metric_date = %s and tenant_id = 't1'"
        assert one(target, built, ["2025-03-20"])["n"] == 1000
    read = [node["Actual Rows"] * node["Actual Loops"] for node in scans]
    assert len(scans) == 2 and all(row_count <= 2_100 for row_count in read), read  # not the 40,000 versions
