"""The Great Expectations suites for the raw tables, as data: what each table's batch is and what it must satisfy.

A batch is the rows of one partition window: app events / API requests by `occurred_at`, the versioned app tables
by `updated_at`, Stripe objects by `created`. `error` rules block the dbt models downstream of the partition;
`warning` rules are reported but do not block.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from extract.tables import (  # the allowed values are declared once, with the raw tables
    CHARGE_STATUSES,
    EVENT_TYPES,
    HTTP_METHODS,
    INVOICE_STATUSES,
    ISO_CURRENCIES,
    PAYMENT_INTENT_STATUSES,
    REFUND_STATUSES,
    SUBSCRIPTION_STATUSES,
)

Level = Literal["error", "warning"]

STRIPE_STATUSES: dict[str, tuple[str, ...]] = {
    "subscriptions": SUBSCRIPTION_STATUSES,
    "invoices": INVOICE_STATUSES,
    "charges": CHARGE_STATUSES,
    "refunds": REFUND_STATUSES,
    "payment_intents": PAYMENT_INTENT_STATUSES,
}
# Money fields that are never negative, per Stripe object type (from the payload).
STRIPE_AMOUNTS: dict[str, tuple[str, ...]] = {
    "charges": ("amount", "amount_refunded"),
    "refunds": ("amount",),
    "invoices": ("amount_paid",),
    "payment_intents": ("amount",),
    "plans": ("amount",),
}


@dataclass(frozen=True)
class Rule:
    expectation: str  # a GX expectation class name
    kwargs: dict[str, Any]
    level: Level = "error"
    why: str = ""


@dataclass(frozen=True)
class TableSuite:
    table: str  # raw table name (raw.<table>)
    select: str  # column list of the batch query
    window_column: str  # the column the partition window applies to
    rules: tuple[Rule, ...] = field(default_factory=tuple)
    trailing_band: bool = False  # row count within a band of the trailing days (warning)

    def batch_query(self, start_iso: str, end_iso: str) -> str:
        return (
            f"select {self.select} from raw.{self.table}"
            f" where {self.window_column} >= '{start_iso}'::timestamptz"
            f" and {self.window_column} < '{end_iso}'::timestamptz"
        )


def _not_null(column: str) -> Rule:
    return Rule("ExpectColumnValuesToNotBeNull", {"column": column}, why=f"{column} is never null")


def _compound_unique(*columns: str) -> Rule:
    return Rule(
        "ExpectCompoundColumnsToBeUnique",
        {"column_list": list(columns)},
        why=f"({', '.join(columns)}) is unique within the batch",
    )


def _in_set(column: str, values: tuple[str, ...] | frozenset[str], level: Level = "error") -> Rule:
    return Rule(
        "ExpectColumnValuesToBeInSet",
        {"column": column, "value_set": sorted(values)},
        level,
        f"{column} is one of the allowed values",
    )


def _min(column: str, minimum: float, level: Level = "error") -> Rule:
    return Rule(
        "ExpectColumnValuesToBeBetween", {"column": column, "min_value": minimum}, level, f"{column} >= {minimum}"
    )


def time_rules(column: str, founded_iso: str, now_iso: str) -> tuple[Rule, ...]:
    """Timestamps not in the future and not before the company existed."""
    return (
        Rule(
            "ExpectColumnValuesToBeBetween",
            {"column": column, "min_value": founded_iso, "max_value": now_iso},
            "error",
            f"{column} is between the company's founding ({founded_iso[:10]}) and now",
        ),
    )


def app_suites(founded_iso: str, now_iso: str) -> list[TableSuite]:
    """The app tables' suites: what the app extractor does not already enforce on every row it loads.

    None re-checks what the load makes true whatever the data (extract/tables.py): a required column (NOT NULL in
    raw), a column's allowed values or bounds (the load's checks reject the row), the table's key (`(id,
    occurred_at)`, or `(id, updated_at)` for a versioned table: raw's unique index refuses a second row). Such a
    check cannot fail, and each cost GX a query over the whole batch (the key's, a count over a window partitioned
    by the key, sorted it), every partition run. What is left can fail: timestamps before the company's founding
    (the load refuses only the future), event types and HTTP methods the app added (loaded and kept, a warning),
    and the row-count band. tests/unit/test_table_declarations.py holds this to the declarations."""
    ts = lambda column: time_rules(column, founded_iso, now_iso)  # noqa: E731
    return [
        TableSuite("app_tenants", "created_at, updated_at", "updated_at", (*ts("created_at"), *ts("updated_at"))),
        TableSuite("app_users", "created_at", "updated_at", ts("created_at")),
        TableSuite(
            "app_jobs",
            "created_at, updated_at",
            "updated_at",
            (*ts("created_at"), *ts("updated_at")),
        ),
        TableSuite(
            "app_events",
            "event_type, occurred_at",
            "occurred_at",
            (*ts("occurred_at"), _in_set("event_type", EVENT_TYPES, "warning")),
            trailing_band=True,
        ),
        TableSuite(
            "app_api_requests",
            "method, occurred_at",
            "occurred_at",
            (*ts("occurred_at"), _in_set("method", HTTP_METHODS, "warning")),
            trailing_band=True,
        ),
    ]


def stripe_suites(kinds: tuple[str, ...], founded_iso: str, now_iso: str) -> list[TableSuite]:
    suites = []
    for kind in kinds:
        columns = ["id", "payload_hash", "created"]
        rules: list[Rule] = [_not_null("id"), _compound_unique("id", "payload_hash")]
        # Stripe objects may predate the company's use of this warehouse (prices, products): only "not in future".
        rules.append(
            Rule(
                "ExpectColumnValuesToBeBetween",
                {"column": "created", "max_value": now_iso},
                "error",
                "created is not in the future",
            )
        )
        if kind in ("customers", "subscriptions", "invoices", "charges", "refunds", "payment_intents", "plans"):
            columns.append("lower(payload->>'currency') as currency")
            rules.append(_in_set("currency", ISO_CURRENCIES))
        for amount in STRIPE_AMOUNTS.get(kind, ()):
            columns.append(f"(payload->>'{amount}')::numeric as {amount}")
            rules.append(_min(amount, 0))
        if kind in STRIPE_STATUSES:
            columns.append("payload->>'status' as status")
            rules.append(_in_set("status", STRIPE_STATUSES[kind]))
        suites.append(TableSuite(f"stripe_{kind}", ", ".join(columns), "created", tuple(rules)))
    return suites
