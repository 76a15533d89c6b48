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

Stripe (monthly invoices, USD, through extract.stripe.loader.load_objects):
  cus_t1  T1  100 from 01-20, two invoices (to 03-20)        month ends: Jan 100, Feb 100, Mar 0
  cus_t4  T4  5 seats x 10 from 01-25, 8 seats from 02-25   month ends: Jan 50, Feb 80, Mar 80, Apr 80
  cus_t2  T2  200 from 03-10, two invoices (to 05-10)       month ends: Mar 200, Apr 200
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from test_product_helpers import dbt, fresh_warehouse, insert, one, rows, stripe_cases, ts  # noqa: I001

from extract.stripe.loader import load_objects
from extract.warehouse import Target

USERS = {
    "a": ("T1", "01-01"),
    "b": ("T1", "01-10"),
    "c": ("T1", "01-20"),
    "e": ("T3", "01-15"),
    "f": ("T4", "01-20"),
    "d": ("T2", "03-05"),
}
EVENTS = [
    ("a", "01-01", "file_upload"),
    ("a", "01-08", "login"),
    ("a", "01-29", "login"),
    ("a", "03-26", "login"),
    ("a", "04-25", "login"),
    ("b", "01-10", "login"),
    ("b", "01-23", "report_generated"),
    ("b", "02-14", "login"),
    ("c", "01-20", "login"),
    ("f", "01-21", "file_upload"),
    ("f", "02-28", "report_generated"),
    ("d", "03-05", "worklog_created"),
    ("d", "03-12", "login"),
]


def stripe_objects() -> list[dict[str, Any]]:
    b = stripe_cases("cohort_cases").Builder()
    b.customer("cus_t1", "T1")
    b.subscription(
        "sub_t1",
        "cus_t1",
        "m100",
        date(2025, 1, 20),
        (date(2025, 2, 20), date(2025, 3, 20)),
        status="canceled",
        ended_at=date(2025, 3, 20),
    )
    b.monthly("cus_t1", "sub_t1", "m100", date(2025, 1, 20), 2)
    b.customer("cus_t4", "T4")
    b.subscription("sub_t4", "cus_t4", "seat", date(2025, 1, 25), (date(2025, 4, 25), date(2025, 5, 25)), quantity=8)
    b.monthly("cus_t4", "sub_t4", "seat", date(2025, 1, 25), 1, quantity=5)
    b.monthly("cus_t4", "sub_t4", "seat", date(2025, 2, 25), 3, quantity=8)
    b.customer("cus_t2", "T2")
    b.subscription("sub_t2", "cus_t2", "m200", date(2025, 3, 10), (date(2025, 4, 10), date(2025, 5, 10)))
    b.monthly("cus_t2", "sub_t2", "m200", date(2025, 3, 10), 2)
    return b.objects


@pytest.fixture(scope="module")
def dbt_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The module's dbt target folder: its saved parse serves every dbt run of the module."""
    return Path(tmp_path_factory.mktemp("dbt_cohort"))


@pytest.fixture(scope="module")
def built(pg_server: Target, dbt_dir: Path) -> Iterator[Target]:
    with fresh_warehouse(pg_server) as target:
        with psycopg.connect(target.conninfo, autocommit=True) as conn:
            insert(
                conn,
                "app_tenants",
                [
                    {"id": t, "created_at": ts(f"2025-{d} 08:00")}
                    for t, d in [("T1", "01-01"), ("T3", "01-15"), ("T4", "01-20"), ("T2", "03-05"), ("T5", "04-20")]
                ],
            )
            insert(
                conn,
                "app_users",
                [{"id": u, "tenant_id": t, "created_at": ts(f"2025-{d} 09:00")} for u, (t, d) in USERS.items()],
            )
            insert(
                conn,
                "app_events",
                [
                    {
                        "id": f"e{i}",
                        "user_id": u,
                        "tenant_id": USERS[u][0],
                        "occurred_at": ts(f"2025-{d} 10:00"),
                        "event_type": kind,
                    }
                    for i, (u, d, kind) in enumerate(EVENTS)
                ],
            )
        with psycopg.connect(target.conninfo) as conn:
            result = load_objects(conn, stripe_objects(), batch_id="fixture")
            conn.commit()
        assert result.rejected == 0, result.reject_reasons
        dbt(
            target,
            dbt_dir,
            "+fct_cohort_retention +fct_conversion_funnel +fct_cohort_revenue_retention +dim_tenants",
            env={"EXECMETRICS_MAX_DATE": "2025-04-25"},
        )
        yield target


def cell(target: Target, cohort_type: str, month: str, period_type: str, n: int) -> dict:
    return one(
        target,
        "select * from marts.fct_cohort_retention where cohort_type = %s and cohort_month = %s::date"
        " and period_type = %s and period_number = %s",
        (cohort_type, month, period_type, n),
    )


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
    count = one(
        built,
        "select count(*) n from marts.fct_cohort_retention where cohort_type = 'users' "
        "and cohort_month = '2025-03-01' and period_type = 'week'",
    )
    assert count["n"] == 27


def test_tenant_cohort(built: Target) -> None:
    week1 = cell(built, "tenants", "2025-01-01", "week", 1)
    # T1 (days 7-13 = 01-08..01-14: a on 01-08) retained; T3 never active; T4 (01-27..02-02) not
    assert (week1["cohort_size"], week1["retained_members"], week1["retention_rate"]) == (3, 1, Decimal("0.3333"))


def test_conversion_funnel(built: Target) -> None:
    funnel = {
        (r["signup_month"].isoformat(), r["step_name"]): r
        for r in rows(built, "select * from marts.fct_conversion_funnel")
    }
    # January: T1 (a's upload on day 1, b's report on 01-23), T3 (nothing), T4 (upload day 2, report day 40 > 30)
    # paying: T1 first paid 01-20 (day 20 of 30) -> paying; T4 pays from 01-25 but never reached first_report
    jan = [funnel[("2025-01-01", s)] for s in ("signed_up", "activated", "first_report", "paying")]
    assert [s["tenants"] for s in jan] == [3, 2, 1, 1]
    assert [s["step_number"] for s in jan] == [1, 2, 3, 4]
    assert [s["conversion_from_previous"] for s in jan] == [
        None,
        Decimal("0.6667"),
        Decimal("0.5000"),
        Decimal("1.0000"),
    ]
    assert [s["conversion_from_start"] for s in jan] == [
        Decimal("1.0000"),
        Decimal("0.6667"),
        Decimal("0.3333"),
        Decimal("0.3333"),
    ]
    assert jan[0]["is_complete"] is True
    # March: T2 activated (worklog on day 1), no report
    # March: T2 pays from 03-10, but without a report it is not at the paying step (0 / 0 -> null)
    assert [funnel[("2025-03-01", s)]["tenants"] for s in ("signed_up", "activated", "first_report", "paying")] == [
        1,
        1,
        0,
        0,
    ]
    assert funnel[("2025-03-01", "paying")]["conversion_from_previous"] is None
    # April: T5 created 04-20, its 30-day window is still open on 04-25
    apr = funnel[("2025-04-01", "signed_up")]
    assert (apr["tenants"], apr["is_complete"]) == (1, False)
    assert funnel[("2025-04-01", "first_report")]["conversion_from_previous"] is None  # 0 / 0


def test_revenue_retention_by_signup_cohort(built: Target) -> None:
    cells = {
        (r["cohort_month"].isoformat(), r["period_number"]): r
        for r in rows(built, "select * from marts.fct_cohort_revenue_retention")
    }
    # January cohort (T1, T3, T4): T1 and T4 first paid in January -> base 100 + 50 = 150
    jan = [cells[("2025-01-01", n)] for n in range(4)]
    assert {(c["cohort_size"], c["paying_tenants"], c["starting_mrr"]) for c in jan} == {(3, 2, Decimal("150.0000"))}
    assert [c["mrr"] for c in jan[:3]] == [Decimal("150.0000"), Decimal("180.0000"), Decimal("80.0000")]
    # month 1: T4 expanded to 80 (180 / 150); month 2: T1 churned (80 / 150)
    assert [c["net_mrr_retention"] for c in jan[:3]] == [Decimal("1.000000"), Decimal("1.200000"), Decimal("0.533333")]
    assert [c["retained_tenants"] for c in jan[:3]] == [2, 2, 1]
    # month 3 = April, not over on 04-25: NULL, not 0
    assert (jan[3]["is_observable"], jan[3]["mrr"], jan[3]["net_mrr_retention"]) == (False, None, None)
    # March cohort (T2, first paid in March, 200): month 0 observable, month 1 (April) not yet
    mar0, mar1 = cells[("2025-03-01", 0)], cells[("2025-03-01", 1)]
    assert (mar0["starting_mrr"], mar0["net_mrr_retention"]) == (Decimal("200.0000"), Decimal("1.000000"))
    assert (mar1["is_observable"], mar1["net_mrr_retention"]) == (False, None)
    # April cohort (T5): nobody pays -> never observable, no base
    apr0 = cells[("2025-04-01", 0)]
    assert (apr0["paying_tenants"], apr0["is_observable"], apr0["net_mrr_retention"]) == (0, False, None)
    assert len([key for key in cells if key[0] == "2025-01-01"]) == 13  # periods 0..cohort_max_months


def test_dim_tenants(built: Target) -> None:
    dim = {r["tenant_id"]: r for r in rows(built, "select * from marts.dim_tenants")}
    assert set(dim) == {"T1", "T2", "T3", "T4", "T5"}
    # as of 04-25: T1 stopped paying on 03-20, T4 (80) and T2 (200) pay, T3 / T5 never paid
    assert (dim["T1"]["first_paying_month"].isoformat(), dim["T1"]["is_paying"]) == ("2025-01-01", False)
    assert (dim["T4"]["first_paying_month"].isoformat(), dim["T4"]["current_mrr"], dim["T4"]["is_paying"]) == (
        "2025-01-01",
        Decimal("80.0000"),
        True,
    )
    assert (dim["T2"]["first_paying_month"].isoformat(), dim["T2"]["is_paying"]) == ("2025-03-01", True)
    assert (dim["T3"]["first_paying_month"], dim["T3"]["is_paying"], dim["T3"]["current_mrr"]) == (None, False, 0)
    assert dim["T5"]["created_date"].isoformat() == "2025-04-20" and dim["T5"]["deleted_date"] is None


INCREMENTAL_MODELS = " ".join(
    [
        "int_user_daily_activity",
        "int_cohort_member_periods",
        "int_tenant_funnel_steps",
        "fct_cohort_retention",
        "fct_conversion_funnel",
    ]
)


def test_incremental_windows_equal_full_refresh(built: Target, dbt_dir: Path) -> None:
    """Built window by window (as daily partitions run), the cohort and funnel marts equal the full build's rows.

    Runs last in this module: it rebuilds the fixture's product models and leaves them as the full build made them.
    """
    marts = ("marts.fct_cohort_retention", "marts.fct_conversion_funnel")

    def snapshot() -> dict[str, list[tuple]]:
        return {m: sorted((tuple(r.values()) for r in rows(built, f"select * from {m}")), key=repr) for m in marts}

    def table_oids() -> list[int]:
        return [
            one(built, "select %s::regclass::oid as oid", (f"intermediate.{name}",))["oid"]
            for name in ("int_cohort_member_periods", "int_tenant_funnel_steps")
        ]

    expected = snapshot()
    assert len(expected["marts.fct_cohort_retention"]) > 50 and expected["marts.fct_conversion_funnel"]

    # the window in the environment, as Dagster passes it: dbt keeps its parse across the runs
    def window(first: str, last: str) -> dict[str, str]:
        return {"EXECMETRICS_MIN_DATE": first, "EXECMETRICS_MAX_DATE": last}

    full_refresh = ["--full-refresh"]
    dbt(built, dbt_dir, INCREMENTAL_MODELS, command="run", env=window("", "2025-01-12"), extra=full_refresh)
    assert snapshot() != expected
    oids = table_oids()
    # windows over the fixture's events: f's activation (01-21), b's report (01-23), T2's signup and activation
    # (03-05), a's last login on the last day alone
    for first, last in [("01-13", "02-14"), ("02-15", "03-12"), ("03-13", "04-24"), ("04-25", "04-25")]:
        dbt(built, dbt_dir, INCREMENTAL_MODELS, command="run", env=window(f"2025-{first}", f"2025-{last}"))
    assert table_oids() == oids, "the intermediate models were rebuilt, not updated incrementally"
    assert snapshot() == expected

    # the last window again: every period it reads is stored with that first day already, so no row is rewritten
    def row_places() -> list[tuple]:
        return [
            tuple(r.values()) for r in rows(built, "select ctid::text, * from intermediate.int_cohort_member_periods")
        ]

    before = row_places()
    dbt(built, dbt_dir, INCREMENTAL_MODELS, command="run", env=window("2025-04-25", "2025-04-25"))
    assert sorted(row_places()) == sorted(before)
    assert snapshot() == expected
