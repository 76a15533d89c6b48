"""fct_cohort_retention and fct_conversion_funnel on a hand-written fixture (UTC; last event 2025-04-25).

Tenants: T1 2025-01-01, T3 01-15, T4 01-20, T2 03-05, T5 04-20 (no users).
Users (signup day = day 0)      events (day number since signup)
  a  T1 01-01   01-01 file_upload (0), 01-08 login (7), 01-29 login (28), 03-26 login (84), 04-25 login (114)
  b  T1 01-10   01-10 login (0), 01-23 report_generated (13), 02-14 login (35)
  c  T1 01-20   01-20 login (0)
  e  T3 01-15   none
  f  T4 01-20   01-21 file_upload (1), 02-28 report_generated (39)
  d  T2 03-05   03-05 worklog_created (0), 03-12 login (7)
Week n = days 7n..7n+6; a cell is observable when the cohort's last signup day + the period's last day <= 04-25:
January (last signup 01-20): week 12 ends on 01-20 + 90 = 04-20 -> observable.
March (only 03-05): week 4 ends 03-05 + 34 = 04-08 -> observable (0 retained); week 12 ends 06-03 -> NULL.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import psycopg
import pytest
from test_product_helpers import dbt, fresh_warehouse, insert, one, rows, ts  # noqa: I001

from extract.warehouse import Target

USERS = {"a": ("T1", "01-01"), "b": ("T1", "01-10"), "c": ("T1", "01-20"), "e": ("T3", "01-15"),
         "f": ("T4", "01-20"), "d": ("T2", "03-05")}
EVENTS = [
    ("a", "01-01", "file_upload"), ("a", "01-08", "login"), ("a", "01-29", "login"), ("a", "03-26", "login"),
    ("a", "04-25", "login"),
    ("b", "01-10", "login"), ("b", "01-23", "report_generated"), ("b", "02-14", "login"),
    ("c", "01-20", "login"),
    ("f", "01-21", "file_upload"), ("f", "02-28", "report_generated"),
    ("d", "03-05", "worklog_created"), ("d", "03-12", "login"),
]


@pytest.fixture(scope="module")
def built(pg_server: Target, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    with fresh_warehouse(pg_server) as target:
        with psycopg.connect(target.conninfo, autocommit=True) as conn:
            insert(conn, "app_tenants", [{"id": t, "created_at": ts(f"2025-{d} 08:00")} for t, d in
                                         [("T1", "01-01"), ("T3", "01-15"), ("T4", "01-20"), ("T2", "03-05"),
                                          ("T5", "04-20")]])
            insert(conn, "app_users", [{"id": u, "tenant_id": t, "created_at": ts(f"2025-{d} 09:00")}
                                       for u, (t, d) in USERS.items()])
            insert(conn, "app_events", [{"id": f"e{i}", "user_id": u, "tenant_id": USERS[u][0],
                                         "occurred_at": ts(f"2025-{d} 10:00"), "event_type": kind}
                                        for i, (u, d, kind) in enumerate(EVENTS)])
        dbt(target, tmp_path_factory.mktemp("dbt_cohort"), "+fct_cohort_retention +fct_conversion_funnel")
        yield target


def cell(target: Target, cohort_type: str, month: str, period_type: str, n: int) -> dict:
    return one(target, "select * from marts.fct_cohort_retention where cohort_type = %s and cohort_month = %s::date"
                       " and period_type = %s and period_number = %s", (cohort_type, month, period_type, n))


def test_user_cohort_weeks_1_4_12(built: Target) -> None:
    jan = {n: cell(built, "users", "2025-01-01", "week", n) for n in (0, 1, 4, 12)}
    assert {c["cohort_size"] for c in jan.values()} == {5}  # a b c e f
    assert jan[0]["retention_rate"] == Decimal("0.8000")  # a b c f active in days 0-6; e never
    assert (jan[1]["retained_members"], jan[1]["retention_rate"]) == (2, Decimal("0.4000"))  # a (7), b (13)
    assert (jan[4]["retained_members"], jan[4]["retention_rate"]) == (1, Decimal("0.2000"))  # a (28); b's 35 is week 5
    assert (jan[12]["retained_members"], jan[12]["retention_rate"]) == (1, Decimal("0.2000"))  # a (84)
    assert jan[12]["is_observable"] is True
    # "on or after" week 4: a (last active week 16), b and f (week 5) -> 3 / 5
    assert jan[4]["retention_or_after_rate"] == Decimal("0.6000")
    # month 1 = days 30-59: b (35), f (39)
    assert cell(built, "users", "2025-01-01", "month", 1)["retention_rate"] == Decimal("0.4000")


def test_right_censored_cohort_is_null_not_zero(built: Target) -> None:
    week1 = cell(built, "users", "2025-03-01", "week", 1)
    week4 = cell(built, "users", "2025-03-01", "week", 4)
    week12 = cell(built, "users", "2025-03-01", "week", 12)
    assert (week1["cohort_size"], week1["retention_rate"]) == (1, Decimal("1.0000"))
    assert (week4["is_observable"], week4["retained_members"], week4["retention_rate"]) == (True, 0, Decimal("0"))
    assert (week12["is_observable"], week12["retained_members"], week12["retention_rate"]) == (False, None, None)
    # the full matrix has every period up to cohort_max_weeks, observable or not
    count = one(built, "select count(*) n from marts.fct_cohort_retention where cohort_type = 'users' "
                       "and cohort_month = '2025-03-01' and period_type = 'week'")
    assert count["n"] == 27


def test_tenant_cohort(built: Target) -> None:
    week1 = cell(built, "tenants", "2025-01-01", "week", 1)
    # T1 (days 7-13 = 01-08..01-14: a on 01-08) retained; T3 never active; T4 (01-27..02-02) not
    assert (week1["cohort_size"], week1["retained_members"], week1["retention_rate"]) == (3, 1, Decimal("0.3333"))


def test_conversion_funnel(built: Target) -> None:
    funnel = {(r["signup_month"].isoformat(), r["step_name"]): r for r in
              rows(built, "select * from marts.fct_conversion_funnel")}
    # January: T1 (a's upload on day 1, b's report on 01-23), T3 (nothing), T4 (upload day 2, report day 40 > 30)
    jan = [funnel[("2025-01-01", s)] for s in ("signed_up", "activated", "first_report")]
    assert [s["tenants"] for s in jan] == [3, 2, 1]
    assert [s["conversion_from_previous"] for s in jan] == [None, Decimal("0.6667"), Decimal("0.5000")]
    assert [s["conversion_from_start"] for s in jan] == [Decimal("1.0000"), Decimal("0.6667"), Decimal("0.3333")]
    assert jan[0]["is_complete"] is True
    # March: T2 activated (worklog on day 1), no report
    assert [funnel[("2025-03-01", s)]["tenants"] for s in ("signed_up", "activated", "first_report")] == [1, 1, 0]
    # April: T5 created 04-20, its 30-day window is still open on 04-25
    apr = funnel[("2025-04-01", "signed_up")]
    assert (apr["tenants"], apr["is_complete"]) == (1, False)
    assert funnel[("2025-04-01", "first_report")]["conversion_from_previous"] is None  # 0 / 0
