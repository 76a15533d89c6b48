"""Benchmark: the cost of one daily partition of the product models must not grow with the length of history.

Builds two warehouses with synthetic app data of the same daily shape, one with 3 months of history and one
with 24, runs a full build of the product daily models on each, then times the daily partition run for the
last day (`dbt run` with min_date = max_date = that day, as Dagster passes it) and prints both times and
their ratio (goal: <= 1.25).

    python bench/daily_partition.py [--tenants 40] [--users-per-tenant 15] [--repeat 3]

Uses WAREHOUSE_URL (or the embedded warehouse); creates and drops databases bench_daily_3m / bench_daily_24m.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg

from extract.settings import load_settings
from extract.warehouse import Warehouse, ensure_raw_schema
from orchestration.dbt_cli import run_dbt

SELECT = "+fct_daily_metrics +fct_metric_alerts"
END = date(2025, 12, 31)

DATA_SQL = """
insert into raw.app_tenants (id, name, plan, created_at, updated_at, is_internal, _batch_id, _extracted_at)
select 't' || n, 'tenant ' || n, 'team', %(start)s::timestamptz, %(start)s::timestamptz, n = 1, 'bench', now()
from generate_series(1, %(tenants)s) n;

insert into raw.app_users (id, tenant_id, created_at, updated_at, is_staff, _batch_id, _extracted_at)
select 'u' || t || '_' || n, 't' || t,
       %(start)s::timestamptz + ((t * 7 + n * 13) %% %(days)s) * interval '1 day',
       %(start)s::timestamptz, n = 1, 'bench', now()
from generate_series(1, %(tenants)s) t, generate_series(1, %(users)s) n;

-- each user is active on ~40%% of days after signup, with 3 events per active day
insert into raw.app_events (id, tenant_id, user_id, event_type, occurred_at, _batch_id, _extracted_at)
select u.id || '_' || d::date || '_' || k, u.tenant_id, u.id,
       (array['login', 'file_upload', 'worklog_created', 'report_generated'])[1 + abs(k + hashtext(u.id)) %% 4],
       d + (9 + k) * interval '1 hour', 'bench', now()
from raw.app_users u
cross join generate_series(u.created_at, %(end)s::timestamptz, interval '1 day') d
cross join generate_series(1, 3) k
where abs(hashtext(u.id || d::date::text)) %% 10 < 4;

insert into raw.app_api_requests (id, tenant_id, user_id, method, route, status_code, duration_ms, occurred_at,
                                  _batch_id, _extracted_at)
select e.id || '_r' || r, e.tenant_id, e.user_id, 'GET', '/v1/items',
       case when abs(hashtext(e.id || r)) %% 50 = 0 then 500 else 200 end,
       20 + abs(hashtext(e.id || r)) %% 400, e.occurred_at, 'bench', now()
from raw.app_events e cross join generate_series(1, 2) r;

insert into raw.app_jobs (id, tenant_id, job_type, status, created_at, started_at, finished_at, updated_at,
                          _batch_id, _extracted_at)
select 'j' || e.id, e.tenant_id, 'report',
       case when abs(hashtext(e.id)) %% 20 = 0 then 'failed' else 'succeeded' end,
       e.occurred_at, e.occurred_at, e.occurred_at + interval '40 seconds', e.occurred_at + interval '40 seconds',
       'bench', now()
from raw.app_events e where e.event_type = 'report_generated';
analyze;
"""


def build(wh: Warehouse, dbname: str, months: int, tenants: int, users: int, repeat: int) -> tuple[float, int]:
    wh.drop_database(dbname)
    wh.ensure_database(dbname)
    target = wh.target.with_db(dbname)
    start = date(END.year, END.month, 1) - timedelta(days=30 * (months - 1))
    start = date(start.year, start.month, 1)
    with psycopg.connect(target.conninfo, autocommit=True) as conn:
        ensure_raw_schema(conn)
        params = {"start": start, "end": END, "days": (END - start).days + 1, "tenants": tenants, "users": users}
        for statement in DATA_SQL.split(";\n"):
            if statement.strip():
                conn.execute(statement, params)
        events = conn.execute("select count(*) from raw.app_events").fetchone()[0]  # type: ignore[index]
    with tempfile.TemporaryDirectory() as tmp:
        run_dbt(
            ["build", "--select", SELECT, "--exclude", "resource_type:test", "--quiet"], target, target_path=Path(tmp)
        )
        times = []
        for _ in range(repeat):
            began = time.perf_counter()
            run_dbt(
                ["run", "--select", "int_user_daily_activity fct_daily_metrics fct_metric_alerts", "--quiet"],
                target,
                dbt_vars={"min_date": END.isoformat(), "max_date": END.isoformat()},
                target_path=Path(tmp),
            )
            times.append(time.perf_counter() - began)
    return statistics.median(times), events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=40)
    parser.add_argument("--users-per-tenant", type=int, default=15)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the bench databases")
    args = parser.parse_args()
    wh = Warehouse(load_settings())
    wh.ensure_running()
    results = {}
    for months in (3, 24):
        name = f"bench_daily_{months}m"
        results[months] = build(wh, name, months, args.tenants, args.users_per_tenant, args.repeat)
        print(
            f"{months:>2} months of history: {results[months][1]:>9,} events; "
            f"daily partition {results[months][0]:.2f} s (median of {args.repeat})",
            flush=True,
        )
        if not args.keep:
            wh.drop_database(name)
    ratio = results[24][0] / results[3][0]
    print(f"ratio 24 months / 3 months: {ratio:.2f} (goal <= 1.25)")


if __name__ == "__main__":
    main()
