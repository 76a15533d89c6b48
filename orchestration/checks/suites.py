"""The Great Expectations suites for the raw tables, as data: what each table's batch is and what it must satisfy.

A batch is the rows of one partition window: app events / API requests by `occurred_at`, the versioned app tables
by `updated_at`, Stripe objects by `created`. `error` rules block the dbt models downstream of the partition;
`warning` rules are reported but do not block.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Level = Literal["error", "warning"]

# ISO 4217 active codes (lowercase, as Stripe writes them).
ISO_CURRENCIES = frozenset(
    """aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob bov brl bsd btn bwp byn bzd cad
    cdf che chf chw clf clp cny cop cou crc cuc cup cve czk djf dkk dop dzd egp ern etb eur fjd fkp gbp gel ghs gip
    gmd gnf gtq gyd hkd hnl hrk htg huf idr ils inr iqd irr isk jmd jod jpy kes kgs khr kmf kpw krw kwd kyd kzt lak
    lbp lkr lrd lsl lyd mad mdl mga mkd mmk mnt mop mru mur mvr mwk mxn mxv myr mzn nad ngn nio nok npr nzd omr pab
    pen pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr sdg sek sgd shp sle sll sos srd ssp stn svc syp szl thb
    tjs tmt tnd top try ttd twd tzs uah ugx usd usn uyi uyu uyw uzs ved ves vnd vuv wst xaf xag xau xba xbb xbc xbd
    xcd xdr xof xpd xpf xpt xsu xts xua xxx yer yer zar zmw zwl""".split()  # noqa: SIM905
)

JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
EVENT_TYPES = ("signup", "login", "file_upload", "worklog_created", "report_generated", "invite_sent", "plan_changed")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
STRIPE_STATUSES: dict[str, tuple[str, ...]] = {
    "subscriptions": (
        "incomplete", "incomplete_expired", "trialing", "active", "past_due", "canceled", "unpaid", "paused",
    ),
    "invoices": ("draft", "open", "paid", "uncollectible", "void"),
    "charges": ("succeeded", "pending", "failed"),
    "refunds": ("pending", "requires_action", "succeeded", "failed", "canceled"),
    "payment_intents": (
        "requires_payment_method", "requires_confirmation", "requires_action", "processing", "requires_capture",
        "canceled", "succeeded",
    ),
}  # fmt: skip
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


def _unique(column: str) -> Rule:
    return Rule("ExpectColumnValuesToBeUnique", {"column": column}, why=f"{column} is unique within the batch")


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
    ts = lambda column: time_rules(column, founded_iso, now_iso)  # noqa: E731
    return [
        TableSuite(
            "app_tenants",
            "id, created_at, updated_at",
            "updated_at",
            (_not_null("id"), _compound_unique("id", "updated_at"), *ts("created_at"), *ts("updated_at")),
        ),
        TableSuite(
            "app_users",
            "id, tenant_id, created_at, updated_at",
            "updated_at",
            (_not_null("id"), _not_null("tenant_id"), _compound_unique("id", "updated_at"), *ts("created_at")),
        ),
        TableSuite(
            "app_jobs",
            "id, tenant_id, status, created_at, updated_at",
            "updated_at",
            (
                _not_null("id"),
                _compound_unique("id", "updated_at"),
                _in_set("status", JOB_STATUSES),
                *ts("created_at"),
                *ts("updated_at"),
            ),
        ),
        TableSuite(
            "app_events",
            "id, tenant_id, event_type, occurred_at",
            "occurred_at",
            (
                _not_null("id"),
                _unique("id"),
                _not_null("tenant_id"),
                *ts("occurred_at"),
                _in_set("event_type", EVENT_TYPES, "warning"),
            ),
            trailing_band=True,
        ),
        TableSuite(
            "app_api_requests",
            "id, tenant_id, method, status_code, duration_ms, occurred_at",
            "occurred_at",
            (
                _not_null("id"),
                _unique("id"),
                *ts("occurred_at"),
                _min("duration_ms", 0),
                Rule(
                    "ExpectColumnValuesToBeBetween",
                    {"column": "status_code", "min_value": 100, "max_value": 599},
                    "error",
                    "status_code is an HTTP status",
                ),
                _in_set("method", HTTP_METHODS, "warning"),
            ),
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
