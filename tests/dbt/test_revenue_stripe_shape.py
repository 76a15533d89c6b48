"""The pinned Stripe API version (extract.stripe.STRIPE_API_VERSION, 2024-06-20): objects of another shape are
rejected with a reason naming the missing field, and never reach the raw tables the revenue marts read."""

from __future__ import annotations

import psycopg
import pytest
from test_product_helpers import stripe_cases  # noqa: I001

from extract.stripe import STRIPE_API_VERSION
from extract.stripe.loader import check_objects, load_objects

cases = stripe_cases("revenue_cases")


def _one(kind: str) -> dict:
    return next(obj for obj in cases.build_objects() if obj["object"] == kind)


def test_pinned_version(raw_conn: psycopg.Connection) -> None:
    assert STRIPE_API_VERSION == "2024-06-20"
    objects = cases.build_objects()
    assert check_objects(raw_conn, objects) == [None] * len(objects)  # our own fixtures are in the pinned shape


@pytest.mark.parametrize(
    ("kind", "drop", "field"),
    [
        # 2025-03-31 ("basil") moved current_period_* from the subscription to its items
        ("subscription", "current_period_start", "current_period_start"),
        ("subscription", "current_period_end", "current_period_end"),
        ("invoice", "lines", "lines"),
        # 2025-03-31 moved invoice.subscription to invoice.parent.subscription_details
        ("invoice", "subscription", "subscription"),
        ("invoice", "customer", "customer"),
        ("charge", "status", "status"),
        ("refund", "amount", "amount"),
    ],
)
def test_other_shapes_name_the_field(raw_conn: psycopg.Connection, kind: str, drop: str, field: str) -> None:
    obj = _one(kind)
    del obj[drop]
    [reason] = check_objects(raw_conn, [obj])
    assert reason == f"{kind} {obj['id']!r} has no field {field!r} (expected API version shape)"


def test_invoice_line_without_period_is_named(raw_conn: psycopg.Connection) -> None:
    invoice = _one("invoice")
    del invoice["lines"]["data"][0]["period"]
    [reason] = check_objects(raw_conn, [invoice])
    assert reason is not None and "line 1 has no field 'period'" in reason


def test_loader_rejects_with_the_reason(raw_conn: psycopg.Connection) -> None:
    good, bad = _one("subscription"), _one("subscription")
    bad["id"] = "sub_newer_shape"
    del bad["current_period_end"]
    with raw_conn.transaction():  # the loader works in the caller's transaction
        result = load_objects(raw_conn, [good, bad], batch_id="shape-test")
    assert result.loaded["subscriptions"] == 1 and result.rejected == 1
    reasons = raw_conn.execute("select reason from raw._rejects where _batch_id = 'shape-test'").fetchall()
    assert reasons == [
        ("subscription 'sub_newer_shape' has no field 'current_period_end' (expected API version shape)",)
    ]
    assert raw_conn.execute(
        "select count(*) from raw.stripe_subscriptions where id = 'sub_newer_shape'"
    ).fetchone() == (0,)
