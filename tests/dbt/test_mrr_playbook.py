"""External check against dbt Labs' MRR playbook (../shared/reference/mrr-playbook): its 121 subscription periods
become Stripe customers and monthly invoices with one subscription line item per service month, go through
`extract.stripe.loader.load_objects`, and our month-end MRR and movement category must agree with the playbook's
definitions for every customer-month."""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from extract.settings import PROJECT_ROOT
from extract.stripe.loader import load_objects
from extract.warehouse import Warehouse
from orchestration.dbt_cli import run_dbt

PLAYBOOK_DIR = PROJECT_ROOT.parent / "shared" / "reference" / "mrr-playbook"
# playbook category -> ours
CATEGORIES = {
    "new": "new",
    "upgrade": "expansion",
    "downgrade": "contraction",
    "churn": "churn",
    "reactivation": "reactivation",
    None: "unchanged",
}


def ts(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp())


def next_month(d: date) -> date:
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


def read_periods() -> list[dict[str, Any]]:
    if not (PLAYBOOK_DIR / "subscription_periods.csv").exists():
        pytest.skip(f"the MRR playbook reference is not present at {PLAYBOOK_DIR}")
    with (PLAYBOOK_DIR / "subscription_periods.csv").open() as handle:
        return [
            {
                "subscription_id": row["subscription_id"],
                "customer_id": row["customer_id"],
                "start": date.fromisoformat(row["start_date"]),
                "end": date.fromisoformat(row["end_date"]),
                "amount": int(round(float(row["monthly_amount"]) * 100)),
            }
            for row in csv.DictReader(handle)
        ]


def stripe_objects(periods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    price = {
        "id": "price_pb",
        "object": "price",
        "currency": "usd",
        "unit_amount": None,
        "recurring": {"interval": "month", "interval_count": 1},
    }
    objects: list[dict[str, Any]] = []
    for customer_id in sorted({p["customer_id"] for p in periods}, key=int):
        objects.append(
            {
                "id": f"cus_pb{customer_id}",
                "object": "customer",
                "created": ts(date(2017, 1, 1)),
                "currency": "usd",
                "metadata": {"tenant_id": "playbook"},
            }
        )
    for p in periods:
        sid = f"sub_pb{p['subscription_id']}"
        cid = f"cus_pb{p['customer_id']}"
        objects.append(
            {
                "id": sid,
                "object": "subscription",
                "customer": cid,
                "status": "canceled",
                "created": ts(p["start"]),
                "start_date": ts(p["start"]),
                "items": {"object": "list", "data": []},
                "current_period_start": ts(p["start"]),
                "current_period_end": ts(p["end"]),
                "cancel_at_period_end": True,
                "canceled_at": ts(p["start"]),
                "ended_at": ts(p["end"]),
                "trial_start": None,
                "trial_end": None,
                "pause_collection": None,
            }
        )
        month = p["start"]
        while month < p["end"]:
            end = next_month(month)
            line = {
                "id": f"il_pb{p['subscription_id']}_{month:%Y%m}",
                "object": "line_item",
                "type": "subscription",
                "subscription": sid,
                "amount": p["amount"],
                "currency": "usd",
                "period": {"start": ts(month), "end": ts(end)},
                "proration": False,
                "quantity": 1,
                "price": {**price, "unit_amount": p["amount"]},
                "discount_amounts": [],
            }
            objects.append(
                {
                    "id": f"in_pb{p['subscription_id']}_{month:%Y%m}",
                    "object": "invoice",
                    "customer": cid,
                    "subscription": sid,
                    "currency": "usd",
                    "status": "paid",
                    "created": ts(month),
                    "billing_reason": "subscription_cycle",
                    "attempt_count": 1,
                    "attempted": True,
                    "amount_due": p["amount"],
                    "amount_paid": p["amount"],
                    "amount_remaining": 0,
                    "lines": {"object": "list", "has_more": False, "data": [line]},
                }
            )
            month = end
    return objects


def playbook_expectations(periods: list[dict[str, Any]], last_month: date) -> dict[tuple[str, date], tuple[float, str]]:
    """The playbook's customer_revenue_by_month + mrr classification, re-implemented from its README."""
    revenue: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for p in periods:
        month = p["start"]
        while month < p["end"]:
            revenue[p["customer_id"]][month] += p["amount"]
            month = next_month(month)
    expected: dict[tuple[str, date], tuple[float, str]] = {}
    for customer_id, by_month in revenue.items():
        month = min(by_month)
        previous = 0
        seen_paying = False
        while month <= last_month:
            current = by_month.get(month, 0)
            category: str | None
            if current > 0 and previous == 0:
                category = "reactivation" if seen_paying else "new"
            elif current == 0 and previous > 0:
                category = "churn"
            elif current > previous:
                category = "upgrade"
            elif current < previous:
                category = "downgrade"
            else:
                category = None
            if current > 0 or previous > 0:
                expected[(f"cus_pb{customer_id}", month)] = (current / 100, CATEGORIES[category])
            seen_paying = seen_paying or current > 0
            previous = current
            month = next_month(month)
    return expected


def test_playbook_mrr_and_movements_agree(warehouse: Warehouse, tmp_path: Path) -> None:
    periods = read_periods()
    assert len(periods) == 121 and len({p["customer_id"] for p in periods}) == 55
    with warehouse.connect() as conn:
        result = load_objects(conn, stripe_objects(periods), batch_id="playbook")
        conn.commit()
    assert result.rejected == 0, result.reject_reasons

    last_end = max(p["end"] for p in periods)  # exclusive: the month of the last end is a churn month
    as_of = next_month(last_end) - timedelta(days=1)
    run_dbt(
        ["build", "--select", "+fct_mrr_movements", "--exclude-resource-type", "test"],
        warehouse.target,
        dbt_vars={"max_date": as_of.isoformat()},
        target_path=tmp_path / "dbt_target",
    )
    with psycopg.connect(warehouse.target.conninfo) as conn:
        rows = conn.execute(
            "select customer_id, month, ending_mrr, movement_type from marts.fct_mrr_movements"
        ).fetchall()
    ours = {(customer_id, month): (float(ending), movement) for customer_id, month, ending, movement in rows}
    expected = playbook_expectations(periods, date(as_of.year, as_of.month, 1))

    disagreements = sorted(
        (key, expected.get(key), ours.get(key))
        for key in set(expected) | set(ours)
        if expected.get(key) != ours.get(key)
    )
    agreeing = len(set(expected) & set(ours)) - len([d for d in disagreements if d[1] and d[2]])
    print(f"playbook customer-months: {len(expected)}, agreeing: {agreeing}, disagreeing: {len(disagreements)}")
    assert not disagreements, disagreements[:20]
    assert len(expected) >= 400  # 410 customer-months (paying months + churn months) in the reference data
