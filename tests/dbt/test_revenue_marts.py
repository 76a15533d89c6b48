"""Revenue marts on hand-written Stripe fixtures (tests/dbt/fixtures/stripe/cases.py, 15 edge-case customers in
three tenants): month-end MRR per customer for each preset, movements, monthly metrics, payments health, and a daily
incremental run that equals the full refresh.

One database for the module: the fixture is loaded and `dbt build` (seeds, models, unit tests, data tests) runs
once with the default preset; the tests after it read that baseline, then the incremental and preset tests rebuild
parts of it (they run last, in file order)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from test_product_helpers import stripe_cases  # noqa: I001

from extract.stripe.loader import load_objects
from extract.warehouse import Target, ensure_raw_schema
from orchestration.dbt_cli import run_dbt
from tests.conftest import throwaway_database

REVENUE_MODELS = (
    "currencies fx_rates finance_monthly_inputs revenue_policy_presets"
    " stg_stripe__customers stg_stripe__subscriptions stg_stripe__coupons stg_stripe__invoices"
    " stg_stripe__invoice_lines stg_stripe__charges stg_stripe__refunds stg_stripe__payment_intents"
    " stg_app__tenants int_stripe__customer_tenants int_stripe__subscription_tenants int_stripe__invoice_tenants"
    " int_stripe__payment_failures int_stripe__cash_movements int_stripe__discounts int_invoice_lines_priced"
    " int_mrr_entitlements int_mrr_customer_days int_mrr_customer_months"
    " int_subscription_trials path:dbt_project/models/marts/revenue"
)
# What a preset rebuilds: every model a policy var reaches (test_policy_vars_reach_only_the_revenue_models).
PRESET_SELECTION = "int_invoice_lines_priced+ int_subscription_trials+ path:dbt_project/models/marts/revenue"
# What a preset changes in fct_revenue_monthly on this fixture, compared with the default (stripe) preset.
# docs/METRICS.md (Revenue, "Presets") lists the same, per policy setting.
PRESET_CHANGED_COLUMNS = {
    # same_month_new_churn = count_both: cus_same (joins 03-05, leaves 03-20) adds new + churn in March.
    # (past_due_grace_days = 9999 changes nothing here: the trial customer's open invoice ends with its period.)
    "chartmogul": {
        "new_mrr",
        "churned_mrr",
        "new_customers",
        "churned_customers",
        "quick_ratio",
        "cac",
        "cac_payback_months",
    },
    # churn at cancellation, 14 grace days, forever-only discounts and full refunds zeroing the period move MRR
    # itself, so every MRR-derived metric can change; spend, trials and the currency do not.
    "profitwell": {
        "starting_mrr",
        "mrr",
        "arr",
        "new_mrr",
        "expansion_mrr",
        "churned_mrr",
        "reactivation_mrr",
        "net_new_mrr",
        "starting_customers",
        "customers",
        "new_customers",
        "churned_customers",
        "reactivated_customers",
        "customer_churn_rate",
        "gross_revenue_churn_rate",
        "net_revenue_churn_rate",
        "nrr",
        "grr",
        "arpa",
        "quick_ratio",
        "ltv",
        "cac",
        "cac_payback_months",
    },
}


cases = stripe_cases("revenue_cases")
AS_OF = cases.AS_OF.isoformat()


@dataclass
class RevenueDb:
    target: Target
    tmp: Path
    month_end: dict[str, list[float]]
    monthly: dict[tuple[date, str], dict[str, Any]]
    daily: set[tuple[Any, ...]]
    movements: set[tuple[Any, ...]]

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.target.conninfo) as conn:
            return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]

    def dbt(self, args: list[str], dbt_vars: dict[str, Any]) -> None:
        # the product models (int_daily_revenue, fct_daily_metrics, the funnel, dim_tenants ...) and the reporting
        # layer are downstream of the revenue ledger but need the app models, which this fixture does not build:
        # `int_mrr_customer_days+` must not reach them
        args = [
            *args,
            "--exclude",
            "path:dbt_project/models/marts/product path:dbt_project/models/intermediate/daily_metrics"
            " path:dbt_project/models/reporting",
        ]
        run_dbt(args, self.target, dbt_vars=dbt_vars, target_path=self.tmp / "dbt_target")


def read_month_end(db: RevenueDb) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {}
    for customer_id, month, ending in db.query(
        "select customer_id, month, ending_mrr from intermediate.int_mrr_customer_months"
    ):
        found.setdefault(customer_id, [0.0] * 7)[month.month - 1] = round(float(ending), 2)
    return {key: value for key, value in found.items() if any(value)}


def read_monthly(db: RevenueDb) -> dict[tuple[date, str], dict[str, Any]]:
    with psycopg.connect(db.target.conninfo) as conn:
        cur = conn.execute("select * from marts.fct_revenue_monthly")
        names = [d.name for d in cur.description or []]
        return {(row[0], row[1]): dict(zip(names, row, strict=True)) for row in cur.fetchall()}


def read_daily(db: RevenueDb) -> set[tuple[Any, ...]]:
    return set(
        db.query(
            "select customer_id, tenant_id, day, currency, mrr_original_minor, mrr, reporting_currency, status, policy"
            " from marts.fct_mrr_daily"
        )
    )


def read_movements(db: RevenueDb) -> set[tuple[Any, ...]]:
    return set(db.query("select * from marts.fct_mrr_movements"))


def expected_for(preset: str) -> dict[str, list[float]]:
    expected = {key: list(value) for key, value in cases.EXPECTED_STRIPE.items()}
    expected.update(cases.EXPECTED_PRESET_CHANGES[preset])
    return {key: value for key, value in expected.items() if any(value)}


@pytest.fixture(scope="module")
def db(pg_server: Target, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RevenueDb]:
    with throwaway_database(pg_server, "rev_" + uuid.uuid4().hex[:12]) as target:
        with psycopg.connect(target.conninfo) as conn:
            ensure_raw_schema(conn)
            result = load_objects(conn, cases.build_objects(), batch_id="fixture")
            conn.commit()
        assert result.rejected == 0, result.reject_reasons
        revenue = RevenueDb(target, tmp_path_factory.mktemp("revenue"), {}, {}, set(), set())
        # seeds, models, the dbt unit tests and every data test on the revenue marts
        revenue.dbt(["build", "--indirect-selection", "cautious", "--select", REVENUE_MODELS], {"max_date": AS_OF})
        revenue.month_end = read_month_end(revenue)
        revenue.monthly = read_monthly(revenue)
        revenue.daily = read_daily(revenue)
        revenue.movements = read_movements(revenue)
        yield revenue


def test_stripe_preset_month_end_mrr(db: RevenueDb) -> None:
    assert db.month_end == expected_for("stripe")


def test_stripe_preset_movements(db: RevenueDb) -> None:
    rows = db.query(
        "select customer_id, month, movement_type, new_mrr, expansion_mrr, contraction_mrr, churned_mrr,"
        " reactivation_mrr, fx_mrr, churn_type from marts.fct_mrr_movements where movement_type <> 'unchanged'"
    )
    moves = {(r[0], r[1].month): (r[2], *(float(x) for x in r[3:9]), r[9]) for r in rows}
    assert moves[("cus_annual", 1)] == ("new", 100, 0, 0, 0, 0, 0, None)
    assert moves[("cus_switch", 3)] == ("contraction", 0, 0, 5, 0, 0, 0, None)  # monthly 50 -> annual 540/12
    assert moves[("cus_upgrade", 2)] == ("expansion", 0, 100, 0, 0, 0, 0, None)
    assert moves[("cus_seats", 2)] == ("expansion", 0, 30, 0, 0, 0, 0, None)
    assert moves[("cus_coupon", 4)] == ("expansion", 0, 20, 0, 0, 0, 0, None)  # the repeating coupon expires
    assert moves[("cus_trial", 3)] == ("churn", 0, 0, 0, 100, 0, 0, "involuntary")
    assert moves[("cus_cancel", 3)] == ("churn", 0, 0, 0, 100, 0, 0, "voluntary")
    assert moves[("cus_pause", 2)][0] == "churn" and moves[("cus_pause", 4)][0] == "reactivation"
    assert moves[("cus_jpy", 4)] == ("fx", 0, 0, 0, 0, 0, -5, None)  # never contraction
    assert moves[("cus_react", 2)][0] == "churn"
    assert moves[("cus_react", 7)] == ("reactivation", 0, 0, 0, 0, 100, 0, None)  # after a five-month gap
    assert moves[("cus_downfree", 3)] == ("churn", 0, 0, 0, 100, 0, 0, "voluntary")
    assert not any(key[0] in ("cus_same", "cus_free") for key in moves)  # net_zero; free is never paying


def test_stripe_preset_monthly_metrics(db: RevenueDb) -> None:
    jan, feb, mar, apr, jul = (db.monthly[(date(2024, m, 1), "__all__")] for m in (1, 2, 3, 4, 7))
    assert jan["mrr"] == Decimal("1150") and jan["arr"] == Decimal("13800")
    assert jan["customers"] == 13 and jan["new_customers"] == 13
    assert jan["trials_ended"] == 1 and jan["trial_conversion_rate"] == 1
    assert jan["cac"] == Decimal("76.9231")  # 1,000 spend / 13 new customers
    assert feb["churned_customers"] == 2 and feb["expansion_mrr"] == 130  # pause + one-month customer; upgrade + seats
    assert feb["grr"] == Decimal("0.826087")  # (1150 - 200) / 1150
    assert mar["churned_mrr"] == 300 and mar["contraction_mrr"] == 5
    assert apr["fx_mrr"] == -5 and apr["reactivated_customers"] == 1
    assert apr["nrr"] == Decimal("1.025806")  # (775 + 20 - 0 - 0) / 775: fx and reactivation stay out of NRR
    assert jul["mrr"] == 990 and jul["reactivated_customers"] == 1
    tenants = {key[1] for key in db.monthly} - {"__all__"}
    assert tenants == {"t1", "t2", "t3"}
    for month in {key[0] for key in db.monthly}:
        assert (
            sum(db.monthly[(month, t)]["mrr"] for t in tenants if (month, t) in db.monthly)
            == db.monthly[(month, "__all__")]["mrr"]
        )
    assert {row["policy"] for row in db.monthly.values()} == {"stripe"}


def test_payments_health(db: RevenueDb) -> None:
    assert db.query(
        "select invoice_id is not null, customer_id, aging_bucket, days_past_due,"
        " amount_remaining_reporting from marts.fct_outstanding_invoices"
    ) == [(True, "cus_trial", "90+", 167, Decimal("100.0000"))]
    assert db.query("select customer_id, attempt_count, outcome from marts.fct_invoice_dunning") == [
        ("cus_trial", 4, "lost")
    ]
    feb = db.query(
        "select refunds, refunded_amount, failed_charges, failed_payment_intents, dunning_lost,"
        " voluntary_churned_customers, involuntary_churned_customers from marts.fct_payments_monthly"
        " where tenant_id = '__all__' and month = '2024-02-01'"
    )
    assert feb == [(2, Decimal("130.0000"), 1, 1, 1, 2, 0)]
    mar = db.query(
        "select voluntary_churned_customers, involuntary_churned_customers from marts.fct_payments_monthly"
        " where tenant_id = '__all__' and month = '2024-03-01'"
    )
    assert mar == [(2, 1)]
    failures = db.query(
        "select payment_object, failure_code, failures from marts.fct_failed_payments"
        " where tenant_id = '__all__' order by 1"
    )
    assert failures == [("charge", "card_declined", 1), ("payment_intent", "insufficient_funds", 1)]
    status = db.query(
        "select trialing, active, past_due, unpaid, paused, canceled from marts.fct_subscription_status_daily"
        " where tenant_id = '__all__' and day = '2024-02-20'"
    )
    assert status == [(0, 11, 1, 0, 1, 0)]
    runway = db.query("select net_burn, runway_months from marts.fct_finance_monthly where month = '2024-01-01'")
    assert runway == [(Decimal("17750.0000"), Decimal("28.17"))]  # 20,000 opex - 2,250 collected; 500,000 / 17,750


def late_objects() -> list[dict[str, Any]]:
    """A customer whose first invoice (service from 07-29) reaches the warehouse only after the 07-30 run."""
    b = cases.Builder()
    b.objects = []
    b._n = 9000  # ids must not collide with the fixture's (in_0001 ... are taken)
    b.customer("cus_late", "t2")
    b.subscription("sub_late", "cus_late", "m200", date(2024, 7, 29), (date(2024, 7, 29), date(2024, 8, 29)))
    b.monthly("cus_late", "sub_late", "m200", date(2024, 7, 29), 1)
    return b.objects


def test_daily_incremental_run_equals_full_refresh(db: RevenueDb) -> None:
    # Full refresh up to 07-30, then the daily run for 07-31 (window 07-28..07-31 with lookback_days 3).
    # The ledger is int_mrr_customer_days; fct_mrr_daily publishes it with the same window.
    db.dbt(["run", "--full-refresh", "--select", "int_mrr_customer_days+"], {"max_date": "2024-07-30"})
    assert db.query("select max(day) from marts.fct_mrr_daily") == [(date(2024, 7, 30),)]
    with psycopg.connect(db.target.conninfo, autocommit=True) as conn:  # mark a row outside and one inside the window
        conn.execute(
            "update marts.fct_mrr_daily set status = 'marker' where customer_id = 'cus_annual'"
            " and day in ('2024-07-20', '2024-07-29')"
        )
    db.dbt(["run", "--select", "int_mrr_customer_days+"], {"min_date": AS_OF, "max_date": AS_OF})
    markers = db.query("select day from marts.fct_mrr_daily where status = 'marker'")
    assert markers == [(date(2024, 7, 20),)]  # only the window was rebuilt
    with psycopg.connect(db.target.conninfo, autocommit=True) as conn:
        conn.execute("update marts.fct_mrr_daily set status = 'active' where status = 'marker'")
    assert read_daily(db) == db.daily
    assert read_movements(db) == db.movements
    assert read_monthly(db) == db.monthly


def test_late_invoice_inside_the_lookback(db: RevenueDb) -> None:
    # The ledger is complete through 07-31 (previous test); an invoice for service from 07-29 arrives late.
    with psycopg.connect(db.target.conninfo) as conn:
        result = load_objects(conn, late_objects(), batch_id="late")
        conn.commit()
    assert result.rejected == 0
    try:
        db.dbt(["run", "--select", "int_invoice_lines_priced+"], {"min_date": AS_OF, "max_date": AS_OF})
        incremental = (read_daily(db), read_movements(db), read_monthly(db))
        late_days = {row[2] for row in incremental[0] if row[0] == "cus_late"}
        assert late_days == {date(2024, 7, 29), date(2024, 7, 30), date(2024, 7, 31)}
        db.dbt(["run", "--full-refresh", "--select", "int_invoice_lines_priced+"], {"max_date": AS_OF})
        assert (read_daily(db), read_movements(db), read_monthly(db)) == incremental
        assert incremental[2][(date(2024, 7, 1), "__all__")]["new_mrr"] == 200
    finally:
        with psycopg.connect(db.target.conninfo, autocommit=True) as conn:
            for table in ("customers", "subscriptions", "invoices", "charges", "payment_intents"):
                conn.execute(f"delete from raw.stripe_{table} where _batch_id = 'late'")


@pytest.mark.parametrize("preset", ["chartmogul", "profitwell"])
def test_each_preset_builds_and_changes_exactly_the_documented_metrics(db: RevenueDb, preset: str) -> None:
    """`dbt build` (models, unit tests, data tests) passes under the preset, and moves only the documented columns.

    The stripe preset is the default the module's fixture builds. The build covers every model the policy vars
    reach (test_policy_vars_reach_only_the_revenue_models): the product marts read the revenue ledger but no
    policy var, and need app data this fixture does not have."""
    db.dbt(
        ["build", "--indirect-selection", "cautious", "--select", PRESET_SELECTION],
        {"max_date": AS_OF, "revenue_policy": preset},
    )
    assert read_month_end(db) == expected_for(preset)
    monthly = read_monthly(db)
    assert set(monthly) == set(db.monthly) or preset == "profitwell"
    changed = set()
    for key, row in monthly.items():
        base = db.monthly.get(key)
        for column, value in row.items():
            if column != "policy" and (base is None or base[column] != value):
                changed.add(column)
    assert {row["policy"] for row in monthly.values()} == {preset}
    assert changed == PRESET_CHANGED_COLUMNS[preset]


def test_policy_vars_reach_only_the_revenue_models(db: RevenueDb) -> None:
    """Every model that reads a revenue policy var is in PRESET_SELECTION, which the preset builds above rebuild."""
    import json

    manifest = json.loads((db.tmp / "dbt_target" / "manifest.json").read_text())
    nodes = manifest["nodes"]
    by_name = {node["name"]: uid for uid, node in nodes.items() if node["resource_type"] == "model"}
    selected: set[str] = set()
    frontier = [by_name["int_invoice_lines_priced"], by_name["int_subscription_trials"]]
    frontier += [uid for uid in by_name.values() if nodes[uid]["path"].startswith("marts/revenue/")]
    while frontier:
        uid = frontier.pop()
        if uid in selected or uid not in nodes or nodes[uid]["resource_type"] != "model":
            continue
        if nodes[uid]["path"].startswith("marts/product"):
            continue  # excluded by RevenueDb.dbt: no app data here
        selected.add(uid)
        frontier += manifest["child_map"].get(uid, [])
    readers = {
        uid
        for uid in by_name.values()
        if any(word in nodes[uid]["raw_code"] for word in ("policy(", "policy_label", "revenue_policy"))
    }
    assert readers, "no model reads a policy var: the test lost its subject"
    assert readers <= selected, sorted(readers - selected)


def test_dbt_unit_tests_hold_in_another_reporting_timezone(db: RevenueDb) -> None:
    """The unit tests' fixtures are written in UTC, and their overrides pin reporting_timezone to it: a deployment
    reporting in New York still passes `dbt build` (run_dbt raises on a failed test)."""
    db.dbt(
        ["test", "--select", REVENUE_MODELS, "--resource-type", "unit_test"],
        {"max_date": AS_OF, "reporting_timezone": "America/New_York"},
    )
