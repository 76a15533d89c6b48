"""Every raw table, declared once: its columns, their types, which are required, the rules a value must meet and
the key rows are deduplicated on.

The raw DDL (extract/warehouse.py) is generated from these declarations, and so are the checks the extractors run
in Postgres before a row reaches its raw table (extract/checks.py): a type here is the Postgres type whose input
function judges the value (`pg_input_is_valid`), so the rules cannot drift from the server's.

- App tables (`raw.app_<name>`): the app source's tables (contracts/app_source.md), typed.
- Stripe tables (`raw.stripe_<type>`): one per object type, the object kept whole as `payload jsonb`; the fields
  declared here are the ones the staging models read, with the type they cast them to, so that an object that
  would break a cast downstream is rejected at load time instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# ------------------------------------------------------------------------------------------------ shared rules

# ISO 4217 active codes (lowercase, as Stripe writes them).
ISO_CURRENCIES = frozenset(
    """aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob bov brl bsd btn bwp byn bzd cad
    cdf che chf chw clf clp cny cop cou crc cuc cup cve czk djf dkk dop dzd egp ern etb eur fjd fkp gbp gel ghs gip
    gmd gnf gtq gyd hkd hnl hrk htg huf idr ils inr iqd irr isk jmd jod jpy kes kgs khr kmf kpw krw kwd kyd kzt lak
    lbp lkr lrd lsl lyd mad mdl mga mkd mmk mnt mop mru mur mvr mwk mxn mxv myr mzn nad ngn nio nok npr nzd omr pab
    pen pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr sdg sek sgd shp sle sll sos srd ssp stn svc syp szl thb
    tjs tmt tnd top try ttd twd tzs uah ugx usd usn uyi uyu uyw uzs ved ves vnd vuv wst xaf xag xau xba xbb xbc xbd
    xcd xdr xof xpd xpf xpt xsu xts xua xxx yer zar zmw zwl""".split()  # noqa: SIM905
)

# No timestamp before this is plausible for a SaaS app or Stripe (Unix time 0).
EARLIEST_TIMESTAMP = "1970-01-01T00:00:00+00:00"
# Stripe timestamps are Unix seconds; the staging models turn them into timestamptz. Up to 9999-12-31.
LATEST_UNIX_SECONDS = 253_402_300_799

JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
EVENT_TYPES = ("signup", "login", "file_upload", "worklog_created", "report_generated", "invite_sent", "plan_changed")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")

PgType = Literal["text", "timestamptz", "boolean", "integer", "double precision", "jsonb"]


# ------------------------------------------------------------------------------------------------ app tables


@dataclass(frozen=True)
class Column:
    name: str
    type: PgType = "text"
    required: bool = False  # a null, empty or absent value rejects the row
    allowed: tuple[str, ...] = ()  # the value must be one of these (text columns)
    minimum: float | None = None  # numbers: inclusive bounds
    maximum: float | None = None
    tenant: bool = False  # the value must be a tenant id already in raw.app_tenants

    @property
    def ddl(self) -> str:
        return f"{self.name} {self.type}" + (" not null" if self.required else "")


@dataclass(frozen=True)
class AppTable:
    name: str  # the app's table name
    columns: tuple[Column, ...]
    mode: Literal["versioned", "append"]
    watermark: str  # updated_at (versioned) or occurred_at (append)

    @property
    def raw_table(self) -> str:
        return f"raw.app_{self.name}"

    @property
    def key(self) -> tuple[str, ...]:
        """Rows are unique on this key: a version of a mutable row, or an append-only row (its id and its moment,
        which an append-only row never changes)."""
        return ("id", self.watermark)

    @property
    def key_index(self) -> tuple[str, tuple[str, ...]]:
        """The raw table's unique index on the key: its name and columns. An append-only table's leads with the
        moment, so a load's rows (new moments) go in at the index's right edge, and it serves the window's range
        scans too: one index, not a key index plus a watermark index (a key index led by the id took a load's rows
        at scattered places, about twice the COPY's cost, docs/PERFORMANCE.md "Raw's key index")."""
        if self.mode == "versioned":
            return f"app_{self.name}_key_uq", self.key
        return f"app_{self.name}_{self.watermark}_key_uq", (self.watermark, "id")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def column(self, name: str) -> Column:
        return next(column for column in self.columns if column.name == name)


def _c(name: str, type: PgType = "text", required: bool = False, **rules: object) -> Column:
    return Column(name, type, required, **rules)  # type: ignore[arg-type]


APP_TABLES: dict[str, AppTable] = {
    table.name: table
    for table in (
        AppTable(
            "tenants",
            (
                _c("id", required=True),
                _c("name"),
                _c("plan"),
                _c("created_at", "timestamptz"),
                _c("updated_at", "timestamptz", True),
                _c("stripe_customer_id"),
                _c("is_internal", "boolean", True),  # internal tenants are excluded from every metric
                _c("deleted_at", "timestamptz"),
            ),
            "versioned",
            "updated_at",
        ),
        AppTable(
            "users",
            (
                _c("id", required=True),
                _c("tenant_id", required=True, tenant=True),
                _c("email"),
                _c("created_at", "timestamptz"),
                _c("updated_at", "timestamptz", True),
                _c("last_login_at", "timestamptz"),
                _c("is_staff", "boolean", True),
                _c("deleted_at", "timestamptz"),
            ),
            "versioned",
            "updated_at",
        ),
        AppTable(
            "jobs",
            (
                _c("id", required=True),
                _c("tenant_id", required=True, tenant=True),
                _c("job_type"),
                _c("status", required=True, allowed=JOB_STATUSES),
                _c("created_at", "timestamptz"),
                _c("started_at", "timestamptz"),
                _c("finished_at", "timestamptz"),
                _c("updated_at", "timestamptz", True),
                _c("error"),
            ),
            "versioned",
            "updated_at",
        ),
        AppTable(
            "events",
            (
                _c("id", required=True),
                _c("tenant_id", required=True, tenant=True),
                _c("user_id"),
                _c("event_type", required=True),  # unknown types are kept (contract); GE warns
                _c("occurred_at", "timestamptz", True),
                _c("properties", "jsonb"),
            ),
            "append",
            "occurred_at",
        ),
        AppTable(
            "api_requests",
            (
                _c("id", required=True),
                _c("tenant_id", required=True, tenant=True),
                _c("user_id"),
                _c("method"),
                _c("route"),
                _c("status_code", "integer", minimum=100, maximum=599),
                _c("duration_ms", "double precision", minimum=0),
                _c("occurred_at", "timestamptz", True),
            ),
            "append",
            "occurred_at",
        ),
    )
}


# ------------------------------------------------------------------------------------------------ Stripe tables

FieldKind = Literal["text", "id", "unix", "bigint", "integer", "boolean", "numeric", "currency", "object", "list"]


@dataclass(frozen=True)
class Field:
    """One field of a Stripe object's payload, by path, as the staging models read it."""

    path: tuple[str, ...]
    kind: FieldKind
    required: bool = False  # the key must be there (null allowed only where Stripe sends null)
    allowed: tuple[str, ...] = ()
    minimum: int | None = None
    not_future: bool = False  # unix times: not beyond the load's clock (plus the tolerance)

    @property
    def name(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class StripeObject:
    kind: str  # Stripe's `object` value
    table: str  # raw.stripe_<table>
    fields: tuple[Field, ...] = ()
    line_fields: tuple[Field, ...] = ()  # invoices: each element of lines.data

    @property
    def raw_table(self) -> str:
        return f"raw.stripe_{self.table}"


def _f(path: str, kind: FieldKind, required: bool = False, **rules: object) -> Field:
    return Field(tuple(path.split(".")), kind, required, **rules)  # type: ignore[arg-type]


def _created(required: bool = True) -> Field:
    return _f("created", "unix", required, not_future=True)


def _money(path: str, required: bool = False) -> Field:
    return _f(path, "bigint", required, minimum=0)


SUBSCRIPTION_STATUSES = (
    "incomplete", "incomplete_expired", "trialing", "active", "past_due", "canceled", "unpaid", "paused",
)  # fmt: skip
INVOICE_STATUSES = ("draft", "open", "paid", "uncollectible", "void")
CHARGE_STATUSES = ("succeeded", "pending", "failed")
REFUND_STATUSES = ("pending", "requires_action", "succeeded", "failed", "canceled")
PAYMENT_INTENT_STATUSES = (
    "requires_payment_method", "requires_confirmation", "requires_action", "processing", "requires_capture",
    "canceled", "succeeded",
)  # fmt: skip

STRIPE_OBJECTS: dict[str, StripeObject] = {
    spec.kind: spec
    for spec in (
        StripeObject(
            "customer",
            "customers",
            (_created(), _f("currency", "currency"), _f("metadata", "object"), _f("discount", "object")),
        ),
        StripeObject("product", "products", (_created(False),)),
        StripeObject(
            "plan",
            "plans",
            (
                _created(False),
                _money("amount", True),
                _f("currency", "currency", True),
                _f("interval", "text", True, allowed=("day", "week", "month", "year")),
                _f("interval_count", "integer", True, minimum=1),
            ),
        ),
        StripeObject(
            "price",
            "prices",
            (
                _created(False),
                _f("currency", "currency", True),
                _f("recurring", "object", True),
                _money("unit_amount"),
                _f("recurring.interval_count", "integer", minimum=1),
            ),
        ),
        StripeObject(
            "coupon",
            "coupons",
            (
                _created(False),
                _f("duration_in_months", "integer", minimum=0),
                _f("percent_off", "numeric", minimum=0),
                _money("amount_off"),
                _f("currency", "currency"),
            ),
        ),
        StripeObject(
            "subscription",
            "subscriptions",
            (
                _f("customer", "id", True),
                _f("status", "text", True, allowed=SUBSCRIPTION_STATUSES),
                _created(),
                _f("items", "object", True),
                _f("current_period_start", "unix", True),
                _f("current_period_end", "unix", True),
                _f("currency", "currency"),
                _f("start_date", "unix"),
                _f("trial_start", "unix"),
                _f("trial_end", "unix"),
                _f("cancel_at_period_end", "boolean"),
                _f("cancel_at", "unix"),
                _f("canceled_at", "unix"),
                _f("ended_at", "unix"),
                _f("pause_collection.resumes_at", "unix"),
                _f("discount", "object"),
            ),
        ),
        StripeObject("subscription_item", "subscription_items", (_created(False),)),
        StripeObject(
            "invoice",
            "invoices",
            (
                _f("customer", "id", True),
                _f("subscription", "text", True),  # 2025-03-31 moved it to parent.subscription_details
                _f("currency", "currency", True),
                _f("status", "text", True, allowed=INVOICE_STATUSES),
                _created(),
                _f("lines", "object", True),
                _f("lines.data", "list", True),
                _f("due_date", "unix"),
                _f("period_start", "unix"),
                _f("period_end", "unix"),
                _f("status_transitions.paid_at", "unix"),
                _f("status_transitions.voided_at", "unix"),
                _f("status_transitions.marked_uncollectible_at", "unix"),
                _f("status_transitions.finalized_at", "unix"),
                _f("attempt_count", "integer", minimum=0),
                _f("attempted", "boolean"),
                _f("amount_due", "bigint"),
                _money("amount_paid"),
                _f("amount_remaining", "bigint"),
                _f("total", "bigint"),
                _f("discount", "object"),
            ),
            line_fields=(
                _f("amount", "bigint", True),
                _f("period", "object", True),
                _f("period.start", "unix", True),
                _f("period.end", "unix", True),
                _f("currency", "currency"),
                _f("amount_excluding_tax", "bigint"),
                _f("proration", "boolean"),
                _f("quantity", "integer", minimum=0),
                _money("price.unit_amount"),
                _f("price.recurring.interval_count", "integer", minimum=1),
                _money("plan.amount"),
                _f("plan.interval_count", "integer", minimum=1),
                _f("discount_amounts", "list"),
            ),
        ),
        StripeObject("invoiceitem", "invoiceitems", (_f("amount", "bigint"), _f("currency", "currency"))),
        StripeObject(
            "charge",
            "charges",
            (
                _money("amount", True),
                _f("currency", "currency", True),
                _f("status", "text", True, allowed=CHARGE_STATUSES),
                _created(),
                _money("amount_refunded"),
                _f("refunded", "boolean"),
            ),
        ),
        StripeObject(
            "refund",
            "refunds",
            (
                _money("amount", True),
                _f("currency", "currency", True),
                _created(),
                _f("status", "text", allowed=REFUND_STATUSES),
            ),
        ),
        StripeObject(
            "payment_intent",
            "payment_intents",
            (
                _money("amount"),
                _f("currency", "currency"),
                _created(False),
                _f("status", "text", allowed=PAYMENT_INTENT_STATUSES),
            ),
        ),
        StripeObject("event", "events", (_f("type", "text", True), _created(), _f("data", "object", True))),
    )
}
STRIPE_TABLES: dict[str, StripeObject] = {spec.table: spec for spec in STRIPE_OBJECTS.values()}


# ------------------------------------------------------------------------------------------------ DDL


# The batch a load stamps on the rows it copies: `set local` by the load (null, so refused, outside one).
BATCH_ID_SETTING = "execmetrics.batch_id"
BATCH_ID_DEFAULT = f"current_setting('{BATCH_ID_SETTING}', true)"


def app_table_ddl(table: AppTable) -> list[str]:
    """The raw table of an app table, its key index and (a versioned table) its watermark index (idempotent
    statements)."""
    raw = f"app_{table.name}"
    columns = ", ".join(column.ddl for column in table.columns)
    index, key_columns = table.key_index
    statements = [
        # _extracted_at is the loading transaction's start and _batch_id the load's (a setting of its transaction):
        # a COPY leaves both to their defaults, which spares Postgres parsing them on every row.
        f"create table if not exists raw.{raw} ({columns},"
        f" _batch_id text not null default {BATCH_ID_DEFAULT}, _extracted_at timestamptz not null default now())",
        f"create unique index if not exists {index} on raw.{raw} ({', '.join(key_columns)})",
    ]
    if key_columns[0] != table.watermark:
        statements.append(f"create index if not exists {raw}_{table.watermark}_ix on raw.{raw} ({table.watermark})")
    return statements


def stripe_table_ddl(spec: StripeObject) -> list[str]:
    # _seq orders the versions of an id: the latest version is the one with the greatest _seq.
    return [
        f"""create table if not exists {spec.raw_table} (
            _seq bigint generated always as identity primary key,
            id text not null, created timestamptz, payload jsonb not null, payload_hash text not null,
            is_deleted boolean not null default false,
            _batch_id text not null, _extracted_at timestamptz not null)""",
        f"create index if not exists stripe_{spec.table}_id_ix on {spec.raw_table} (id, _seq)",
    ]
