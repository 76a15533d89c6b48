"""fct_daily_metrics revenue columns on a hand-written fixture: app tenants plus a few Stripe objects loaded through
`extract.stripe.loader.load_objects` (the revenue test fixture's builder). Reporting timezone UTC, currency USD,
as of 2025-03-31. Every expected number is worked out below.

App tenants: tA, tB, tC (no Stripe customer) created 2025-01-01; tint internal.
Stripe customers (monthly invoices, paid unless noted):
  cus_a1  tA  USD 100 from 01-01                                         -> 100 every day
  cus_a2  tA  USD 200 from 01-10, cancelled, the subscription ends 03-10 -> 200 until 03-09, then 0
  cus_b1  tB  EUR 100 from 01-01; seed rates 01: 1.0350, 02: 1.0617, 03: 1.0768 USD/EUR (the rate of the
              service period's start)                                    -> 103.50, 106.17, 107.68
  cus_b2  tB  5 seats x 10 USD from 02-15; the 03-15 invoice (8 seats) fails: open, a failed charge and a payment
              intent with last_payment_error (one failed attempt)        -> 50, then 80 (past due from 03-15)
  cus_u   --  USD 100 from 01-01, no tenant anywhere ('__unassigned__')  -> only in the '__all__' row
  cus_int tint USD 100 (internal)                                        -> nowhere
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from types import ModuleType
from typing import Any

import psycopg
import pytest
from test_product_helpers import daily, dbt, fresh_warehouse, insert, rows, stripe_cases, ts  # noqa: I001

from extract.stripe.loader import load_objects
from extract.warehouse import Target

AS_OF = "2025-03-31"
EUR = {1: Decimal("1.0350"), 2: Decimal("1.0617"), 3: Decimal("1.0768")}  # dbt_project/seeds/fx_rates.csv


def load_builder() -> ModuleType:
    module = stripe_cases("daily_revenue_cases")
    module.PRICES["eur100"] = module.price("price_eur100", 10000, currency="eur")
    return module


def stripe_objects() -> list[dict[str, Any]]:
    cases = load_builder()
    b = cases.Builder()
    jan1, mar1, apr1 = date(2025, 1, 1), date(2025, 3, 1), date(2025, 4, 1)

    b.customer("cus_a1", "tA")
    b.subscription("sub_a1", "cus_a1", "m100", jan1, (mar1, apr1))
    b.monthly("cus_a1", "sub_a1", "m100", jan1, 3)

    b.customer("cus_a2", "tA")
    b.canceled_at_period_end(
        "sub_a2", "cus_a2", "m200", date(2025, 1, 10), (date(2025, 2, 10), date(2025, 3, 10)), date(2025, 2, 20)
    )
    b.monthly("cus_a2", "sub_a2", "m200", date(2025, 1, 10), 2)

    b.customer("cus_b1", "tB", currency="eur")
    b.subscription("sub_b1", "cus_b1", "eur100", jan1, (mar1, apr1))
    b.monthly("cus_b1", "sub_b1", "eur100", jan1, 3)

    b.customer("cus_b2", "tB")
    b.subscription(
        "sub_b2",
        "cus_b2",
        "seat",
        date(2025, 2, 15),
        (date(2025, 3, 15), date(2025, 4, 15)),
        status="past_due",
        quantity=8,
    )
    b.monthly("cus_b2", "sub_b2", "seat", date(2025, 2, 15), 1, quantity=5)
    b.invoice(
        "cus_b2",
        "sub_b2",
        date(2025, 3, 15),
        [b.line("sub_b2", date(2025, 3, 15), date(2025, 4, 15), 8000, "seat", quantity=8)],
        status="open",
        failure_code="card_declined",
    )

    b.customer("cus_u", None)
    b.subscription("sub_u", "cus_u", "m100", jan1, (mar1, apr1))
    b.monthly("cus_u", "sub_u", "m100", jan1, 3)

    b.customer("cus_int", "tint")
    b.subscription("sub_int", "cus_int", "m100", jan1, (mar1, apr1))
    b.monthly("cus_int", "sub_int", "m100", jan1, 3)
    return b.objects


@pytest.fixture(scope="module")
def built(pg_server: Target, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    with fresh_warehouse(pg_server) as target:
        with psycopg.connect(target.conninfo, autocommit=True) as conn:
            insert(
                conn,
                "app_tenants",
                [
                    {"id": "tA", "created_at": ts("2025-01-01 09:00")},
                    {"id": "tB", "created_at": ts("2025-01-01 09:00")},
                    {"id": "tC", "created_at": ts("2025-01-01 09:00")},
                    {"id": "tint", "created_at": ts("2025-01-01 09:00"), "is_internal": True},
                ],
            )
            insert(conn, "app_users", [{"id": "u1", "tenant_id": "tA", "created_at": ts("2025-01-01 10:00")}])
            insert(
                conn,
                "app_events",
                [
                    {
                        "id": "e1",
                        "user_id": "u1",
                        "tenant_id": "tA",
                        "occurred_at": ts("2025-03-31 10:00"),
                        "event_type": "login",
                    }
                ],
            )
        with psycopg.connect(target.conninfo) as conn:
            result = load_objects(conn, stripe_objects(), batch_id="fixture")
            conn.commit()
        assert result.rejected == 0, result.reject_reasons
        # the daily mart and, to compare with, the monthly revenue marts (seeds included)
        dbt(
            target,
            tmp_path_factory.mktemp("dbt_daily_revenue"),
            "+fct_daily_metrics +fct_revenue_monthly +fct_failed_payments",
            dbt_vars={"max_date": AS_OF},
        )
        yield target


def test_tenant_a_cancellation(built: Target) -> None:
    # March starts with a1 (100) + a2 (200); a2's subscription ends 03-10: month-to-date NRR = GRR = 100 / 300
    mar9, mar20 = daily(built, "tA", "2025-03-09"), daily(built, "tA", "2025-03-20")
    assert (mar9["mrr"], mar9["paying_customers"], mar9["nrr"]) == (Decimal("300.0000"), 2, Decimal("1.000000"))
    assert (mar20["mrr"], mar20["arr"], mar20["paying_customers"]) == (Decimal("100.0000"), Decimal("1200.0000"), 1)
    assert (mar20["nrr"], mar20["grr"]) == (Decimal("0.333333"), Decimal("0.333333"))
    assert (mar20["past_due_subscriptions"], mar20["failed_payments"], mar20["reporting_currency"]) == (0, 0, "USD")


def test_tenant_b_fx_expansion_and_past_due(built: Target) -> None:
    # 03-20: b1 at the March rate 107.68 + b2's 8 seats 80 = 187.68
    mar20 = daily(built, "tB", "2025-03-20")
    assert mar20["mrr"] == 100 * EUR[3] + 80 and mar20["paying_customers"] == 2
    # start of March: b1 106.17 (February rate) + b2 50; b1 counts FX-neutral (106.17), b2 expanded to 80:
    # NRR = (106.17 + 80) / 156.17 = 1.192098; GRR caps b2 at 50 -> 1
    start = 100 * EUR[2] + 50
    assert mar20["nrr"] == ((100 * EUR[2] + 80) / start).quantize(Decimal("0.000001"))
    assert mar20["nrr"] == Decimal("1.192098") and mar20["grr"] == Decimal("1.000000")
    # the 03-15 invoice failed: one failed attempt (a failed charge and its payment intent), past due from 03-15
    mar15 = daily(built, "tB", "2025-03-15")
    assert (mar15["failed_payments"], mar15["past_due_subscriptions"]) == (1, 1)
    assert (mar20["failed_payments"], mar20["past_due_subscriptions"]) == (0, 1)
    assert daily(built, "tB", "2025-03-14")["past_due_subscriptions"] == 0
    # January: b1 at the January rate; no customer paying at the start of the first month -> NRR null, not 0
    jan10 = daily(built, "tB", "2025-01-10")
    assert jan10["mrr"] == 100 * EUR[1] and jan10["nrr"] is None and jan10["grr"] is None


def test_tenant_without_stripe(built: Target) -> None:
    c = daily(built, "tC", "2025-03-20")
    assert (c["mrr"], c["paying_customers"], c["nrr"], c["past_due_subscriptions"], c["failed_payments"]) == (
        0,
        0,
        None,
        0,
        0,
    )


def test_all_tenants_row(built: Target) -> None:
    # a1 100 + b1 107.68 + b2 80 + unassigned 100 (the internal customer never counts)
    mar20 = daily(built, "__all__", "2025-03-20")
    assert mar20["mrr"] == Decimal("387.6800") and mar20["arr"] == Decimal("4652.1600")
    assert mar20["paying_customers"] == 4
    # start of March: 100 + 200 + 106.17 + 50 + 100 = 556.17; retained 100 + 0 + 106.17 + 80 + 100 = 386.17;
    # gross: 100 + 0 + 106.17 + 50 + 100 = 356.17
    assert mar20["nrr"] == (Decimal("386.17") / Decimal("556.17")).quantize(Decimal("0.000001"))
    assert mar20["grr"] == (Decimal("356.17") / Decimal("556.17")).quantize(Decimal("0.000001"))
    assert (mar20["past_due_subscriptions"], daily(built, "__all__", "2025-03-15")["failed_payments"]) == (1, 1)
    # the unassigned customer is in '__all__' only: '__all__' = tenants + 100 every day of March
    gaps = rows(
        built,
        """
        select a.metric_date, a.mrr - sum(t.mrr) as gap, a.paying_customers - sum(t.paying_customers) as extra
        from marts.fct_daily_metrics a
        join marts.fct_daily_metrics t on t.metric_date = a.metric_date and t.tenant_id <> '__all__'
        where a.tenant_id = '__all__' and a.metric_date between '2025-03-01' and '2025-03-31'
        group by a.metric_date, a.mrr, a.paying_customers""",
    )
    assert {(g["gap"], g["extra"]) for g in gaps} == {(Decimal("100.0000"), 1)}


def test_month_end_equals_fct_revenue_monthly(built: Target) -> None:
    # on a month's last day (and the as-of day) the daily columns are the monthly mart's numbers
    mismatches = rows(
        built,
        """
        select m.month, m.tenant_id, m.mrr, d.mrr, m.nrr, d.nrr, m.grr, d.grr, m.customers, d.paying_customers
        from marts.fct_revenue_monthly m
        join marts.fct_daily_metrics d
          on d.tenant_id = m.tenant_id
         and d.metric_date = least((m.month + interval '1 month - 1 day')::date, date '2025-03-31')
        where (m.mrr, m.arr, m.nrr, m.grr, m.customers)
              is distinct from (d.mrr, d.arr, d.nrr, d.grr, d.paying_customers)""",
    )
    assert mismatches == []
    compared = rows(
        built, "select count(*) n from marts.fct_revenue_monthly where tenant_id in ('tA', 'tB', '__all__')"
    )
    assert compared[0]["n"] == 9  # 3 months x (tA, tB, __all__)


def test_failed_payments_match_the_revenue_mart(built: Target) -> None:
    # fct_failed_payments lists the charge and the payment intent of the one failed attempt separately
    failures = rows(built, "select tenant_id, payment_object, failures from marts.fct_failed_payments order by 1, 2")
    assert [(f["tenant_id"], f["payment_object"], f["failures"]) for f in failures] == [
        ("__all__", "charge", 1),
        ("__all__", "payment_intent", 1),
        ("tB", "charge", 1),
        ("tB", "payment_intent", 1),
    ]
    total = rows(built, "select sum(failed_payments) n from marts.fct_daily_metrics where tenant_id = '__all__'")
    assert total[0]["n"] == 1
