"""Small, hand-written app source files and a Stripe dump for the orchestration tests (no generator needed)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

EVENT_TYPES = ("login", "file_upload", "worklog_created", "report_generated")


def _ts(day: date, hour: int, minute: int = 0) -> str:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC).isoformat()


def _epoch(day: date, hour: int = 0) -> int:
    return int(datetime.combine(day, time(hour), tzinfo=UTC).timestamp())


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def write_app_source(directory: Path, first: date, last: date, tenants: int = 2, events_per_day: int = 6) -> Path:
    """tenants/users/jobs/events/api_requests as JSONL, one tenant signing up on `first`."""
    directory.mkdir(parents=True, exist_ok=True)
    company_start = first - timedelta(days=30)
    tenant_rows, user_rows = [], []
    for t in range(tenants):
        tid = f"ten_{t}"
        created = _ts(company_start + timedelta(days=t), 9)
        tenant_rows.append(
            {
                "id": tid,
                "name": f"Tenant {t}",
                "plan": "pro",
                "created_at": created,
                "updated_at": created,
                "stripe_customer_id": f"cus_{t}",
                "is_internal": False,
                "deleted_at": None,
            }
        )
        for u in range(2):
            user_rows.append(
                {
                    "id": f"usr_{t}_{u}",
                    "tenant_id": tid,
                    "email": f"u{u}@t{t}.example",
                    "created_at": created,
                    "updated_at": created,
                    "last_login_at": None,
                    "is_staff": False,
                    "deleted_at": None,
                }
            )
    events, requests, jobs = [], [], []
    day = first
    n = 0
    while day <= last:
        for i in range(events_per_day):
            t = i % tenants
            n += 1
            events.append(
                {
                    "id": f"evt_{n}",
                    "tenant_id": f"ten_{t}",
                    "user_id": f"usr_{t}_{i % 2}",
                    "event_type": EVENT_TYPES[i % len(EVENT_TYPES)],
                    "occurred_at": _ts(day, 8 + i),
                    "properties": {},
                }
            )
            requests.append(
                {
                    "id": f"req_{n}",
                    "tenant_id": f"ten_{t}",
                    "user_id": f"usr_{t}_{i % 2}",
                    "method": "GET",
                    "route": "/api/items",
                    "status_code": 200 if i % 5 else 500,
                    "duration_ms": 12.5 + i,
                    "occurred_at": _ts(day, 8 + i, 30),
                }
            )
        jobs.append(
            {
                "id": f"job_{day:%Y%m%d}",
                "tenant_id": "ten_0",
                "job_type": "export",
                "status": "succeeded",
                "created_at": _ts(day, 10),
                "started_at": _ts(day, 10, 1),
                "finished_at": _ts(day, 10, 2),
                "updated_at": _ts(day, 10, 2),
                "error": None,
            }
        )
        day += timedelta(days=1)
    _write_jsonl(directory / "tenants.jsonl", tenant_rows)
    _write_jsonl(directory / "users.jsonl", user_rows)
    _write_jsonl(directory / "jobs.jsonl", jobs)
    _write_jsonl(directory / "events.jsonl", events)
    _write_jsonl(directory / "api_requests.jsonl", requests)
    return directory


def write_stripe_dump(directory: Path, first: date, tenants: int = 2) -> Path:
    """A minimal Stripe dump (API version 2024-06-20 shapes): customers, a product/price, subscriptions, invoices."""
    directory.mkdir(parents=True, exist_ok=True)
    start = first - timedelta(days=30)
    price = {
        "id": "price_pro",
        "object": "price",
        "active": True,
        "currency": "usd",
        "unit_amount": 4900,
        "product": "prod_pro",
        "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"},
        "type": "recurring",
        "created": _epoch(start - timedelta(days=10)),
    }
    plan = {
        "id": "price_pro",
        "object": "plan",
        "active": True,
        "amount": 4900,
        "currency": "usd",
        "interval": "month",
        "interval_count": 1,
        "product": "prod_pro",
        "created": _epoch(start - timedelta(days=10)),
    }
    customers, subscriptions, invoices, charges = [], [], [], []
    for t in range(tenants):
        created = _epoch(start + timedelta(days=t), 9)
        period_end = created + 30 * 86400
        customers.append(
            {
                "id": f"cus_{t}",
                "object": "customer",
                "created": created,
                "currency": "usd",
                "email": f"billing@t{t}.example",
                "metadata": {"tenant_id": f"ten_{t}"},
                "delinquent": False,
            }
        )
        item = {
            "id": f"si_{t}",
            "object": "subscription_item",
            "created": created,
            "price": price,
            "plan": plan,
            "quantity": 1,
            "subscription": f"sub_{t}",
        }
        subscriptions.append(
            {
                "id": f"sub_{t}",
                "object": "subscription",
                "customer": f"cus_{t}",
                "status": "active",
                "created": created,
                "start_date": created,
                "current_period_start": created,
                "current_period_end": period_end,
                "cancel_at_period_end": False,
                "canceled_at": None,
                "ended_at": None,
                "trial_start": None,
                "trial_end": None,
                "discount": None,
                "currency": "usd",
                "metadata": {},
                "items": {"object": "list", "data": [item], "has_more": False},
                "plan": plan,
                "quantity": 1,
            }
        )
        invoices.append(
            {
                "id": f"in_{t}",
                "object": "invoice",
                "customer": f"cus_{t}",
                "subscription": f"sub_{t}",
                "currency": "usd",
                "status": "paid",
                "created": created,
                "period_start": created,
                "period_end": created,
                "amount_due": 4900,
                "amount_paid": 4900,
                "subtotal": 4900,
                "total": 4900,
                "discount": None,
                "billing_reason": "subscription_create",
                "paid": True,
                "status_transitions": {"paid_at": created, "finalized_at": created},
                "lines": {
                    "object": "list",
                    "has_more": False,
                    "data": [
                        {
                            "id": f"il_{t}",
                            "object": "line_item",
                            "amount": 4900,
                            "currency": "usd",
                            "quantity": 1,
                            "period": {"start": created, "end": period_end},
                            "plan": plan,
                            "price": price,
                            "proration": False,
                            "subscription": f"sub_{t}",
                            "subscription_item": f"si_{t}",
                            "type": "subscription",
                            "discount_amounts": [],
                            "discountable": True,
                        }
                    ],
                },
            }
        )
        charges.append(
            {
                "id": f"ch_{t}",
                "object": "charge",
                "amount": 4900,
                "amount_refunded": 0,
                "currency": "usd",
                "status": "succeeded",
                "created": created,
                "customer": f"cus_{t}",
                "invoice": f"in_{t}",
                "paid": True,
                "refunded": False,
            }
        )
    _write_jsonl(directory / "customers.jsonl", customers)
    _write_jsonl(directory / "prices.jsonl", [price])
    _write_jsonl(directory / "plans.jsonl", [plan])
    _write_jsonl(directory / "subscriptions.jsonl", subscriptions)
    _write_jsonl(directory / "invoices.jsonl", invoices)
    _write_jsonl(directory / "charges.jsonl", charges)
    return directory
