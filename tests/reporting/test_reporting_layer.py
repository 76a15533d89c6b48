"""The reporting layer on a hand-checkable fixture (reporting timezone UTC, USD, as of Monday 2025-03-31): period-to-
date values, the previous-period and last-year comparisons, names, every month present, and the executive MRR tile
equal to fct_mrr_daily on the latest day. Every expected number is worked out below.

App tenants (counted): tA "Acme" created 2024-01-05; tB "Beta" 2024-03-10; tC "Cobalt" 2025-02-03;
tD "Delta" 2025-03-12, deleted 2025-03-20 (a tenant account closed); tint internal.
Stripe (monthly invoices, paid):
  cus_a1  tA  "Acme Inc"  USD 100 from 2024-01-01, 15 months          -> 100 every day to 2025-03-31
  cus_b1  tB  (no name)   USD 50 from 2024-03-10, 12 months, the subscription ends 2025-03-10
                                                                      -> 50 from 2024-03-10 to 2025-03-09
Users and events: u1 (tA) active 2024-03-31, 2024-04-01, 2025-03-24, 2025-03-30 and 2025-03-31; u2 (tB) active
2025-03-24 and 2024-03-25 (a Monday, 52 weeks before 2025-03-24).
Jobs (tA): 2025-03-31 two succeeded and one failed; 2025-03-24 one succeeded, one cancelled.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from test_product_helpers import dbt, fresh_warehouse, insert, one, rows, stripe_cases, ts  # noqa: I001

from extract.stripe.loader import load_objects
from extract.warehouse import Target

AS_OF = "2025-03-31"


def stripe_objects() -> list[dict[str, Any]]:
    b = stripe_cases("reporting_cases").Builder()
    b.customer("cus_a1", "tA")
    b.subscription("sub_a1", "cus_a1", "m100", date(2024, 1, 1), (date(2025, 3, 1), date(2025, 4, 1)))
    b.monthly("cus_a1", "sub_a1", "m100", date(2024, 1, 1), 15)
    b.customer("cus_b1", "tB")
    b.canceled_at_period_end(
        "sub_b1", "cus_b1", "m50", date(2024, 3, 10), (date(2025, 2, 10), date(2025, 3, 10)), date(2025, 2, 20)
    )
    b.monthly("cus_b1", "sub_b1", "m50", date(2024, 3, 10), 12)
    for obj in b.objects:
        if obj["id"] == "cus_a1":
            obj["name"] = "Acme Inc"
    return b.objects


@pytest.fixture(scope="module")
def built(pg_server: Target, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    with fresh_warehouse(pg_server) as target:
        with psycopg.connect(target.conninfo, autocommit=True) as conn:
            insert(
                conn,
                "app_tenants",
                [
                    {"id": "tA", "name": "Acme", "plan": "growth", "created_at": ts("2024-01-05 09:00")},
                    {"id": "tB", "name": "Beta", "created_at": ts("2024-03-10 09:00")},
                    {"id": "tC", "name": "Cobalt", "created_at": ts("2025-02-03 09:00")},
                    {
                        "id": "tD",
                        "name": "Delta",
                        "created_at": ts("2025-03-12 09:00"),
                        "deleted_at": ts("2025-03-20 09:00"),
                    },
                    {"id": "tint", "name": "Us", "created_at": ts("2024-01-01 09:00"), "is_internal": True},
                ],
            )
            insert(
                conn,
                "app_users",
                [
                    {"id": "u1", "tenant_id": "tA", "created_at": ts("2024-01-05 10:00")},
                    {"id": "u2", "tenant_id": "tB", "created_at": ts("2024-03-10 10:00")},
                ],
            )
            active = [
                ("u1", "tA", "2024-03-31"),
                ("u1", "tA", "2024-04-01"),
                ("u1", "tA", "2025-03-24"),
                ("u1", "tA", "2025-03-30"),
                ("u1", "tA", "2025-03-31"),
                ("u2", "tB", "2025-03-24"),
                ("u2", "tB", "2024-03-25"),
            ]
            insert(
                conn,
                "app_events",
                [
                    {
                        "id": f"e{n}",
                        "user_id": u,
                        "tenant_id": t,
                        "occurred_at": ts(f"{d} 10:00"),
                        "event_type": "login",
                    }
                    for n, (u, t, d) in enumerate(active)
                ],
            )
            jobs = [
                ("j1", "2025-03-31", "succeeded"),
                ("j2", "2025-03-31", "succeeded"),
                ("j3", "2025-03-31", "failed"),
                ("j4", "2025-03-24", "succeeded"),
                ("j5", "2025-03-24", "cancelled"),
            ]
            insert(
                conn,
                "app_jobs",
                [
                    {
                        "id": j,
                        "tenant_id": "tA",
                        "status": status,
                        "created_at": ts(f"{d} 08:00"),
                        "started_at": ts(f"{d} 08:00"),
                        "finished_at": ts(f"{d} 08:01"),
                    }
                    for j, d, status in jobs
                ],
            )
        with psycopg.connect(target.conninfo) as conn:
            result = load_objects(conn, stripe_objects(), batch_id="fixture")
            conn.commit()
        assert result.rejected == 0, result.reject_reasons
        dbt(target, tmp_path_factory.mktemp("dbt_reporting"), "+reporting", dbt_vars={"max_date": AS_OF})
        yield target


def period(target: Target, grain: str, start: str, tenant: str = "__all__") -> dict[str, Any]:
    return one(
        target,
        "select * from reporting.rpt_kpi_periods where grain = %s and period_start = %s::date and tenant_id = %s",
        (grain, start, tenant),
    )


def test_executive_mrr_tile_is_fct_mrr_daily_on_the_latest_day(built: Target) -> None:
    latest = one(built, "select max(day) as day from marts.fct_mrr_daily")["day"]
    ledger = one(built, "select sum(mrr) as mrr from marts.fct_mrr_daily where day = %s", (latest,))["mrr"]
    for grain, start in (("day", AS_OF), ("week", AS_OF), ("month", "2025-03-01")):
        tile = period(built, grain, start)
        assert (tile["as_of_date"], tile["mrr"]) == (latest, ledger) == (date(2025, 3, 31), Decimal("100.0000"))


def test_day_grain_compares_with_the_day_before_and_52_weeks_back(built: Target) -> None:
    day = period(built, "day", AS_OF)
    # 03-30: a1 100 (b1 ended 03-10); 52 weeks before Monday 2025-03-31 is Monday 2024-04-01: a1 100 + b1 50
    assert (day["previous_as_of_date"], day["last_year_as_of_date"]) == (date(2025, 3, 30), date(2024, 4, 1))
    assert (day["mrr"], day["mrr_previous"], day["mrr_last_year"]) == (100, 100, 150)
    assert (day["paying_customers"], day["paying_customers_previous"], day["paying_customers_last_year"]) == (1, 1, 2)
    assert (day["dau"], day["dau_previous"], day["dau_last_year"]) == (1, 1, 1)
    # jobs: 2 succeeded + 1 failed run on 03-31; the rate is of the jobs run
    assert (day["jobs_run"], day["jobs_succeeded"], day["job_success_rate"]) == (3, 2, Decimal("0.666667"))


def test_week_to_date_compares_with_the_same_days_of_other_weeks(built: Target) -> None:
    week = period(built, "week", AS_OF)  # Monday 2025-03-31: one day of the week so far
    assert (week["is_complete"], week["period_end"]) == (False, date(2025, 4, 6))
    assert (week["previous_period_start"], week["previous_as_of_date"]) == (date(2025, 3, 24), date(2025, 3, 24))
    assert (week["last_year_period_start"], week["last_year_as_of_date"]) == (date(2024, 4, 1), date(2024, 4, 1))
    # Monday 03-24: u1 and u2 active, jobs: one succeeded, one cancelled (run = 1)
    assert (week["dau"], week["dau_previous"], week["dau_last_year"]) == (1, 2, 1)
    assert (week["jobs_run"], week["jobs_run_previous"], week["jobs_cancelled_previous"]) == (3, 1, 1)
    assert (week["mrr"], week["mrr_previous"], week["mrr_last_year"]) == (100, 100, 150)


def test_a_whole_month_compares_with_whole_months(built: Target) -> None:
    march = period(built, "month", "2025-03-01")
    assert march["is_complete"] and march["previous_as_of_date"] == date(2025, 2, 28)
    assert march["last_year_as_of_date"] == date(2024, 3, 31)
    # end of February 2025: a1 100 + b1 50; end of March 2024: a1 100 + b1 50 (from 03-10)
    assert (march["mrr"], march["mrr_previous"], march["mrr_last_year"]) == (100, 150, 150)
    assert (march["arr"], march["arr_previous"]) == (1200, 1800)
    # tenant accounts: March 2025 opened tD and closed it; February opened tC; March 2024 opened tB
    assert (march["tenant_accounts_new"], march["tenant_accounts_new_previous"]) == (1, 1)
    assert march["tenant_accounts_new_last_year"] == 1
    assert (march["tenant_accounts_closed"], march["tenant_accounts_closed_previous"]) == (1, 0)
    # open at the end of March 2025: tA, tB, tC (tD closed); end of March 2024: tA, tB
    assert (march["tenant_accounts_open"], march["tenant_accounts_open_last_year"]) == (3, 2)
    # average DAU over March 2025: 4 user-days (03-24 x2, 03-30, 03-31) / 31 days
    assert march["dau"] == (Decimal(4) / 31).quantize(Decimal("0.01"))
    # month-to-date NRR of March 2025: start = a1 100 + b1 50, today a1 100 -> 2/3
    assert march["nrr_mtd"] == Decimal("0.666667")


def test_tenant_rows_carry_names_and_segments(built: Target) -> None:
    tenants = {r["tenant_id"]: r for r in rows(built, "select * from reporting.rpt_tenants")}
    assert set(tenants) == {"tA", "tB", "tC", "tD", "__all__", "__unassigned__"}  # the internal tenant is not there
    assert (tenants["tA"]["tenant_name"], tenants["tA"]["plan"], tenants["tA"]["segment"]) == (
        "Acme",
        "growth",
        "self-serve",
    )
    assert (tenants["tB"]["segment"], tenants["__all__"]["tenant_name"]) == ("non-paying", "All tenants")
    acme = period(built, "month", "2025-03-01", "tA")
    assert (acme["tenant_name"], acme["mrr"], acme["mrr_last_year"]) == ("Acme", 100, 100)
    customers = {r["customer_id"]: r["customer_name"] for r in rows(built, "select * from reporting.rpt_customers")}
    assert customers == {"cus_a1": "Acme Inc", "cus_b1": "Beta"}  # no Stripe name: the tenant's
    columns = {
        r["column_name"]
        for r in rows(built, "select column_name from information_schema.columns where table_schema = 'reporting'")
    }
    assert not [c for c in columns if "email" in c], "no contact details in the reporting layer"


def test_every_month_is_present_and_compared(built: Target) -> None:
    months = rows(
        built,
        "select month, mrr, mrr_previous, mrr_last_year, paying_customers_lost, new_paying_customers"
        " from reporting.rpt_revenue_monthly where tenant_id = 'tB' order by month",
    )
    # tB exists from March 2024: 13 months to March 2025, none missing, zero MRR in March 2025 (no gap)
    assert [m["month"] for m in months] == [date(2024, 3, 1)] + [
        date(2024 + (3 + n) // 12, (3 + n) % 12 + 1, 1) for n in range(12)
    ]
    march = months[-1]
    assert (march["mrr"], march["mrr_previous"], march["mrr_last_year"]) == (0, 50, 50)
    assert (march["paying_customers_lost"], months[0]["new_paying_customers"]) == (1, 1)
    # tC never paid: its months are there, with zeros
    assert rows(built, "select count(*) n, sum(mrr) s from reporting.rpt_revenue_monthly where tenant_id = 'tC'")[
        0
    ] == {"n": 2, "s": 0}
    # the mart itself has every month of a tenant with a ledger: tB's March 2025 row (zero at its end) is there
    gap = rows(built, "select mrr from marts.fct_revenue_monthly where tenant_id = 'tB' and month = '2025-03-01'")
    assert gap == [{"mrr": 0}]


def test_summary_reads_the_tiles_numbers(built: Target) -> None:
    from orchestration.summary import UnknownTenant, summary

    with psycopg.connect(built.conninfo) as conn:
        march = summary(conn, date(2025, 3, 1), date(2025, 3, 31), None)
        acme = summary(conn, date(2025, 3, 24), date(2025, 3, 31), "Acme")  # by name
        with pytest.raises(UnknownTenant):
            summary(conn, date(2025, 3, 1), date(2025, 3, 31), "Nobody")
    assert march["window"]["tenant"] == "All tenants"
    financial = march["financial"]
    assert (financial["as_of"], financial["mrr"], financial["arr"], financial["paying_customers"]) == (
        "2025-03-31",
        100.0,
        1200.0,
        1,
    )
    assert (financial["nrr_month_to_date"], financial["closed_month"], financial["paying_customers_lost"]) == (
        0.6667,
        "2025-03-01",
        1,
    )
    # tenant accounts: tA, tB, tC open at the end; tD opened and closed in March (not a paying customer lost)
    assert march["customers"] == {"tenant_accounts_open": 3, "tenant_accounts_opened": 1, "tenant_accounts_closed": 1}
    # the month's summary is the month's row of rpt_kpi_periods
    row = period(built, "month", "2025-03-01")
    assert march["engagement"]["dau_avg"] == float(row["dau"]) and march["engagement"]["mau"] == row["mau"]
    # jobs: run = succeeded + failed (3 on 03-31, 1 on 03-24); the cancelled one apart; rate of the run ones
    assert march["jobs"] == {"run": 4, "succeeded": 3, "failed": 1, "cancelled": 1, "success_rate": 0.75}
    assert (acme["window"]["tenant"], acme["jobs"]["run"], acme["financial"]["mrr"]) == ("Acme", 4, 100.0)
