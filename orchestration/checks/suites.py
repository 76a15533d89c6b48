"""The Great Expectations suites for the raw tables, as data: what each table's batch is and what it must satisfy.

A batch is the rows of one partition window: app events / API requests by `occurred_at`, the versioned app tables
by `updated_at`, Stripe objects by `created`. `error` rules block the dbt models downstream of the partition;
`warning` rules are reported but do not block.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from extract.tables import EVENT_TYPES, HTTP_METHODS  # the allowed values are declared once, with the raw tables

Level = Literal["error", "warning"]


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


def _in_set(column: str, values: tuple[str, ...] | frozenset[str], level: Level = "error") -> Rule:
    return Rule(
        "ExpectColumnValuesToBeInSet",
        {"column": column, "value_set": sorted(values)},
        level,
        f"{column} is one of the allowed values",
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


def stripe_suites(kinds: tuple[str, ...], now_iso: str) -> list[TableSuite]:
    """The Stripe tables' suites: what the Stripe loader does not already enforce on every object it loads.

    The loader (extract/stripe/loader.py) rejects an object whose declared fields (extract/tables.py) hold the wrong
    type, a currency outside ISO 4217, an unknown status or a negative amount, and raw refuses a missing id; none of
    that is checked again. Nor is `(id, payload_hash)` unique: an object that changes and changes back (a
    cancellation at period end, then undone) stores its earlier payload again as its next version, which is history.
    What is left is `created` not in the future as stored. The loader judges it only where a type declares `created`
    (extract/tables.py), so for invoice items it can fail; for the other types it is the column rule GX counts the
    batch with. Stripe objects may predate the company's use of this warehouse (prices, products): no founding
    bound."""
    rule = Rule(
        "ExpectColumnValuesToBeBetween",
        {"column": "created", "max_value": now_iso},
        "error",
        "created is not in the future",
    )
    return [TableSuite(f"stripe_{kind}", "created", "created", (rule,)) for kind in kinds]
