"""Revenue marts on hand-written Stripe fixtures (tests/dbt/fixtures/stripe/cases.py): month-end MRR per customer
for each preset, movements, bridge and payments-health figures, incremental == full refresh."""

from __future__ import annotations

import importlib.util
from datetime import date, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
import pytest

from extract.stripe.loader import load_objects
from extract.warehouse import Target, Warehouse
from orchestration.dbt_cli import run_dbt

FIXTURES = Path(__file__).parent / "fixtures" / "stripe"
REVENUE_SELECT = [
    "--select",
    "currencies fx_rates finance_monthly_inputs revenue_policy_presets"
    " stg_stripe__customers stg_stripe__subscriptions stg_stripe__coupons stg_stripe__invoices"
    " stg_stripe__invoice_lines stg_stripe__charges stg_stripe__refunds stg_stripe__payment_intents"
    " int_stripe__discounts int_invoice_lines_priced int_mrr_entitlements int_mrr_customer_months"
    " int_subscription_trials"
    " path:dbt_project/models/marts/revenue",
]


def load_cases_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("revenue_cases", FIXTURES / "cases.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cases = load_cases_module()


def load_fixture(warehouse: Warehouse, objects: list[dict[str, Any]]) -> None:
    with warehouse.connect() as conn:
        result = load_objects(conn, objects, batch_id="fixture")
        conn.commit()
    assert result.rejected == 0, result.reject_reasons


def dbt_build(target: Target, tmp: Path, dbt_vars: dict[str, Any], *extra: str, command: str = "build") -> None:
    run_dbt([command, *REVENUE_SELECT, *extra], target, dbt_vars=dbt_vars, target_path=tmp / "dbt_target")


def month_end_mrr(target: Target) -> dict[str, list[float]]:
    with psycopg.connect(target.conninfo) as conn:
        rows = conn.execute(
            "select customer_id, month, ending_mrr from intermediate.int_mrr_customer_months"
        ).fetchall()
    found: dict[str, list[float]] = {}
    for customer_id, month, ending in rows:
        found.setdefault(customer_id, [0.0] * 7)[month.month - 1] = round(float(ending), 2)
    return found


def query(target: Target, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(target.conninfo) as conn:
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]


def expected_for(preset: str) -> dict[str, list[float]]:
    expected = {key: list(value) for key, value in cases.EXPECTED_STRIPE.items()}
    expected.update(cases.EXPECTED_PRESET_CHANGES[preset])
    return {key: value for key, value in expected.items() if any(value)}


@pytest.fixture
def loaded(warehouse: Warehouse) -> Warehouse:
    load_fixture(warehouse, cases.build_objects())
    return warehouse


def test_stripe_preset_month_end_mrr_and_movements(loaded: Warehouse, tmp_path: Path) -> None:
    target = loaded.target
    dbt_build(target, tmp_path, {"max_date": cases.AS_OF.isoformat()})
    found = {key: value for key, value in month_end_mrr(target).items() if any(value)}
    assert found == expected_for("stripe")
