"""fct_daily_metrics on a tiny hand-written fixture, every expected number worked out by hand below.

Tenants (UTC, reporting timezone UTC):
  t1  created 2025-01-01
  t2  created 2025-01-01, deleted 2025-02-03 10:00        -> churned on 2025-02-03
  tint internal                                           -> excluded everywhere
Users (counted unless noted): u1, u2 (t1), u3 (t2) created 2025-01-01; u4 (t1) created 2025-01-30;
  staff (t1, is_staff), gone (t1, deleted), intern (tint) -> excluded; all three are active on 2025-02-03.
Events (local day = UTC day):
  u1: 01-05 file_upload, 01-31 login, 02-01 login + report_generated, 02-03 login
  u2: 01-20 login, 02-02 login
  u3: 01-29 login
  u4: 01-30 signup, 02-02 worklog_created, 02-03 report_generated
The spine runs from 2025-01-01 (first tenant) to 2025-02-03 (last event).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from test_product_helpers import daily, dbt, fresh_warehouse, insert, one, rows, ts  # noqa: I001

from extract.warehouse import Target


def load_fixture(conn: psycopg.Connection) -> None:
    insert(
        conn,
        "app_tenants",
        [
            {"id": "t1", "created_at": ts("2025-01-01 09:00")},
            # an older version of t2 (not deleted) and the latest one (deleted): staging must pick the latest
            {"id": "t2", "created_at": ts("2025-01-01 09:00"), "updated_at": ts("2025-01-02 00:00")},
            {"id": "t2", "created_at": ts("2025-01-01 09:00"), "deleted_at": ts("2025-02-03 10:00")},
            {"id": "tint", "created_at": ts("2025-01-01 09:00"), "is_internal": True},
        ],
    )
    jan1 = ts("2025-01-01 10:00")
    insert(
        conn,
        "app_users",
        [
            {"id": "u1", "tenant_id": "t1", "created_at": jan1, "email": "u1@example.com"},
            {"id": "u2", "tenant_id": "t1", "created_at": jan1},
            {"id": "u3", "tenant_id": "t2", "created_at": jan1},
            {"id": "u4", "tenant_id": "t1", "created_at": ts("2025-01-30 09:00")},
            {"id": "staff", "tenant_id": "t1", "created_at": jan1, "is_staff": True},
            {"id": "gone", "tenant_id": "t1", "created_at": jan1, "deleted_at": ts("2025-01-15 00:00")},
            {"id": "intern", "tenant_id": "tint", "created_at": jan1},
        ],
    )
    events = [
        ("u1", "t1", "2025-01-05 09:00", "file_upload"),
        ("u1", "t1", "2025-01-31 12:00", "login"),
        ("u1", "t1", "2025-02-01 08:00", "login"),
        ("u1", "t1", "2025-02-01 09:00", "report_generated"),
        ("u1", "t1", "2025-02-03 11:00", "login"),
        ("u2", "t1", "2025-01-20 10:00", "login"),
        ("u2", "t1", "2025-02-02 10:00", "login"),
        ("u3", "t2", "2025-01-29 10:00", "login"),
        ("u4", "t1", "2025-01-30 09:05", "signup"),
        ("u4", "t1", "2025-02-02 14:00", "worklog_created"),
        ("u4", "t1", "2025-02-03 15:00", "report_generated"),
        ("staff", "t1", "2025-02-03 12:00", "file_upload"),
        ("gone", "t1", "2025-02-03 12:00", "login"),
        ("intern", "tint", "2025-02-03 12:00", "login"),
        (None, "t1", "2025-02-03 12:30", "plan_changed"),  # no user: not activity
    ]
    insert(
        conn,
        "app_events",
        [
            {"id": f"e{i}", "user_id": u, "tenant_id": t, "occurred_at": ts(at), "event_type": kind}
            for i, (u, t, at, kind) in enumerate(events)
        ],
    )
    day = "2025-02-03"
    jobs = [
        # id, tenant, status, started, finished  (durations 10, 20, 30, 40 s)
        ("j1", "t1", "succeeded", f"{day} 10:00:00", f"{day} 10:00:10"),
        ("j2", "t1", "succeeded", f"{day} 10:00:00", f"{day} 10:00:20"),
        ("j3", "t1", "succeeded", f"{day} 10:00:00", f"{day} 10:00:30"),
        ("j4", "t1", "failed", f"{day} 10:00:00", f"{day} 10:00:40"),
        ("j5", "t1", "cancelled", None, None),
        ("j6", "t1", "running", f"{day} 11:00:00", None),
        ("jx", "tint", "failed", f"{day} 10:00:00", f"{day} 10:05:00"),
    ]
    created = ts(f"{day} 09:00")
    insert(
        conn,
        "app_jobs",
        [
            # an older version of j1, still running: staging must pick the latest (succeeded)
            {
                "id": "j1",
                "tenant_id": "t1",
                "status": "running",
                "created_at": created,
                "started_at": ts(f"{day} 10:00:00"),
                "updated_at": ts(f"{day} 10:00:01"),
            },
        ]
        + [
            {
                "id": jid,
                "tenant_id": tenant,
                "status": status,
                "created_at": created,
                "started_at": ts(start) if start else None,
                "finished_at": ts(end) if end else None,
                "updated_at": ts(end) if end else ts(f"{day} 12:00"),
            }
            for jid, tenant, status, start, end in jobs
        ],
    )
    # 100 API requests for t1 on 2025-02-03 lasting 1..100 ms; 10 are 404s and 5 are 500s; 3 internal ones;
    api = []
    for n in range(1, 101):
        status = 404 if n <= 10 else 500 if n <= 15 else 200
        api.append(
            {
                "id": f"r{n}",
                "tenant_id": "t1",
                "status_code": status,
                "duration_ms": float(n),
                "occurred_at": ts(f"{day} 13:00"),
            }
        )
    api += [
        {"id": f"ri{n}", "tenant_id": "tint", "duration_ms": 5000.0, "occurred_at": ts(f"{day} 13:00")}
        for n in range(3)
    ]
    # 2 more for t1 by its staff user and 1 by its deleted one: excluded users' requests do not count either
    api += [
        {"id": f"rx{n}", "tenant_id": "t1", "user_id": user, "duration_ms": 9000.0, "occurred_at": ts(f"{day} 13:00")}
        for n, user in enumerate(["staff", "staff", "gone"])
    ]
    insert(conn, "app_api_requests", api)


@pytest.fixture(scope="module")
def built(pg_server: Target, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    with fresh_warehouse(pg_server) as target:
        with psycopg.connect(target.conninfo, autocommit=True) as conn:
            load_fixture(conn)
        # stg_app__jobs: the latest version of each job, which no daily model reads (int_daily_jobs takes the
        # latest of its window's versions itself); test_staging_picks_latest_versions reads it
        dbt(target, tmp_path_factory.mktemp("dbt_daily"), "+fct_daily_metrics stg_app__jobs")
        yield target


def test_spine_and_grain(built: Target) -> None:
    span = one(
        built,
        "select min(metric_date)::text lo, max(metric_date)::text hi, count(distinct metric_date) n "
        "from marts.fct_daily_metrics",
    )
    assert span == {"lo": "2025-01-01", "hi": "2025-02-03", "n": 34}
    tenants = {r["tenant_id"] for r in rows(built, "select distinct tenant_id from marts.fct_daily_metrics")}
    assert tenants == {"__all__", "t1", "t2"}  # the internal tenant never appears
    # email (PII) never reaches the mart
    cols = {
        r["column_name"]
        for r in rows(
            built,
            "select column_name from information_schema.columns "
            "where table_schema = 'marts' and table_name = 'fct_daily_metrics'",
        )
    }
    assert "email" not in cols and len(cols) >= 45


def test_every_table_the_run_built_was_analyzed_as_it_was_built(built: Target) -> None:
    """The models after a table plan with its statistics (macros/analyze.sql): without them, at scale 1 Postgres
    took half of int_users_classified's users for excluded and int_daily_api's parallel hash failed. last_analyze is
    an ANALYZE's (autovacuum's is last_autoanalyze); a view has no statistics."""
    analyzed = rows(
        built,
        "select relname, last_analyze is not null as analyzed from pg_stat_user_tables"
        " where schemaname in ('intermediate', 'marts')"
        " and left(relname, 1) <> '_'",  # _late_row_builds: the runs' bookkeeping, not a model
    )
    names = {r["relname"] for r in analyzed}
    assert {"int_users_classified", "int_daily_api", "fct_daily_metrics"} <= names
    assert [r["relname"] for r in analyzed if not r["analyzed"]] == []
    assert not rows(built, "select 1 from pg_stats where schemaname = 'staging'")  # views


def test_dau_wau_mau_across_the_month_boundary(built: Target) -> None:
    # 01-31: DAU u1; WAU (01-25..01-31) u1 u3 u4; MAU (01-02..01-31) u1 u2 u3 u4; month-to-date (01-01..) 4
    jan31 = daily(built, "__all__", "2025-01-31")
    assert (jan31["dau"], jan31["wau"], jan31["mau"], jan31["active_users_month_to_date"]) == (1, 3, 4, 4)
    # 02-01: DAU u1; WAU (01-26..02-01) u1 u3 u4; MAU (01-03..02-01) 4; month-to-date restarts: u1 only
    feb1 = daily(built, "__all__", "2025-02-01")
    assert (feb1["dau"], feb1["wau"], feb1["mau"], feb1["active_users_month_to_date"]) == (1, 3, 4, 1)
    assert feb1["events_total"] == 2
    # 02-03: DAU u1 u4 (staff, deleted and internal users excluded); WAU (01-28..02-03) u1 u2 u3 u4;
    # MAU (01-05..02-03, u1's 01-05 upload is day 1 of the window) 4; DAU/MAU 2/4
    feb3 = daily(built, "__all__", "2025-02-03")
    assert (feb3["dau"], feb3["wau"], feb3["mau"], feb3["active_users_month_to_date"]) == (2, 4, 4, 3)
    assert feb3["dau_mau_ratio"] == Decimal("0.5000")
    assert feb3["dau_wau_ratio"] == Decimal("0.5000")
    assert feb3["events_total"] == 2 and feb3["tenants_active"] == 1
    # active days in 01-05..02-03: u1 4 (01-05, 01-31, 02-01, 02-03), u2 2, u3 1, u4 3 -> buckets 1 / 3 / 0 / 0
    assert (
        feb3["mau_active_1_day"],
        feb3["mau_active_2_7_days"],
        feb3["mau_active_8_14_days"],
        feb3["mau_active_15_plus_days"],
    ) == (1, 3, 0, 0)
    assert feb3["avg_active_days_30d"] == Decimal("2.50")
    # per tenant on 02-03: t1 has u1, u2, u4; t2 has u3 (active 01-29)
    t1 = daily(built, "t1", "2025-02-03")
    t2 = daily(built, "t2", "2025-02-03")
    assert (t1["dau"], t1["wau"], t1["mau"]) == (2, 3, 3)
    assert (t2["dau"], t2["wau"], t2["mau"]) == (0, 1, 1)
    # a day with nobody active in the last 30 days: MAU 0 and DAU/MAU null, not 0 and not an error
    jan4 = daily(built, "__all__", "2025-01-04")
    assert jan4["mau"] == 0 and jan4["dau_mau_ratio"] is None


def test_customers_and_churn(built: Target) -> None:
    jan1 = daily(built, "__all__", "2025-01-01")
    assert (jan1["tenants_total"], jan1["tenants_new"], jan1["tenants_churned"]) == (2, 2, 0)
    assert jan1["tenant_churn_rate"] is None  # no tenant alive at the start of the first day
    feb3 = daily(built, "__all__", "2025-02-03")
    # t2 deleted on 02-03: churned that day; 1 of the 2 tenants alive at the start of the day
    assert (feb3["tenants_total"], feb3["tenants_new"], feb3["tenants_churned"]) == (1, 0, 1)
    assert feb3["tenant_churn_rate"] == Decimal("0.500000")
    t2 = daily(built, "t2", "2025-02-03")
    assert (t2["tenants_total"], t2["tenants_churned"]) == (0, 1)
    feb2 = daily(built, "__all__", "2025-02-02")
    assert (feb2["tenants_total"], feb2["tenants_churned"]) == (2, 0)


def test_signups_and_activation(built: Target) -> None:
    # 01-01: u1 u2 u3 signed up (staff / deleted / internal users do not count); only u1 did an activation
    # action (file_upload on 01-05) within 7 days (01-01..01-07): 1/3 activated, 1/3 uploaded.
    jan1 = daily(built, "__all__", "2025-01-01")
    assert (jan1["signups"], jan1["activated_users"]) == (3, 1)
    assert jan1["activation_rate"] == Decimal("0.3333")
    assert (jan1["file_upload_rate"], jan1["worklog_creation_rate"], jan1["report_generation_rate"]) == (
        Decimal("0.3333"),
        Decimal("0"),
        Decimal("0"),
    )
    assert jan1["activation_window_complete"] is True
    # 01-30: u4 signed up, created a worklog on 02-02 and a report on 02-03 (days 4 and 5 of 7)
    jan30 = daily(built, "__all__", "2025-01-30")
    assert (jan30["signups"], jan30["activated_users"], jan30["activation_rate"]) == (1, 1, Decimal("1.0000"))
    assert (jan30["file_upload_rate"], jan30["worklog_creation_rate"], jan30["report_generation_rate"]) == (
        Decimal("0"),
        Decimal("1.0000"),
        Decimal("1.0000"),
    )
    assert jan30["activation_window_complete"] is False  # 01-30..02-05 is not over on 02-03


def test_jobs(built: Target) -> None:
    feb3 = daily(built, "__all__", "2025-02-03")
    # terminal on 02-03: j1 j2 j3 succeeded, j4 failed, j5 cancelled (internal jx excluded); j6 still running
    assert (
        feb3["jobs_created"],
        feb3["jobs_total"],
        feb3["jobs_succeeded"],
        feb3["jobs_failed"],
        feb3["jobs_cancelled"],
    ) == (6, 5, 3, 1, 1)
    assert feb3["jobs_success_rate"] == Decimal("0.7500")  # 3 / (3 + 1): cancelled jobs are not failures
    assert feb3["jobs_avg_duration_s"] == Decimal("25.000")  # (10 + 20 + 30 + 40) / 4
    # p95 of 10, 20, 30, 40 with linear interpolation: rank 0.95 * 3 = 2.85 -> 30 + 0.85 * 10 = 38.5
    assert feb3["jobs_p95_duration_s"] == Decimal("38.500")
    assert daily(built, "t1", "2025-02-03")["jobs_total"] == 5


def test_api(built: Target) -> None:
    feb3 = daily(built, "__all__", "2025-02-03")
    assert (feb3["api_requests"], feb3["api_4xx"], feb3["api_5xx"]) == (100, 10, 5)
    assert (feb3["api_4xx_rate"], feb3["api_5xx_rate"]) == (Decimal("0.1000"), Decimal("0.0500"))
    # 1..100 ms: p50 = 50.5; p95 rank 0.95 * 99 = 94.05 -> 95.05; p99 rank 98.01 -> 99.01
    assert (feb3["api_p50_latency_ms"], feb3["api_p95_latency_ms"], feb3["api_p99_latency_ms"]) == (
        Decimal("50.500"),
        Decimal("95.050"),
        Decimal("99.010"),
    )


def test_all_tenants_row_is_the_sum_of_tenants(built: Target) -> None:
    mismatches = rows(
        built,
        """
        with per_tenant as (
            select metric_date, sum(tenants_total) tt, sum(dau) dau, sum(mau) mau, sum(signups) su,
                   sum(jobs_total) jt, sum(api_requests) api
            from marts.fct_daily_metrics where tenant_id <> '__all__' group by metric_date
        )
        select a.metric_date from marts.fct_daily_metrics a join per_tenant p using (metric_date)
        where a.tenant_id = '__all__'
          and (a.tenants_total, a.dau, a.mau, a.signups, a.jobs_total, a.api_requests)
              is distinct from (p.tt, p.dau, p.mau, p.su, p.jt, p.api)
        """,
    )
    assert mismatches == []


def test_staging_picks_latest_versions(built: Target, tmp_path: Path) -> None:
    t2 = one(built, "select deleted_at is not null as deleted from staging.stg_app__tenants where tenant_id = 't2'")
    assert t2["deleted"] is True
    j1 = one(built, "select job_status from staging.stg_app__jobs where job_id = 'j1'")
    assert j1["job_status"] == "succeeded"
