"""The one way Stripe objects reach the warehouse: dump files and API pages both come through `load_objects`.

Each object type has a table `raw.stripe_<type>` (_seq, id, created, payload jsonb, payload_hash, is_deleted,
_batch_id, _extracted_at). Loading is idempotent: an object whose payload equals its latest stored version adds
nothing; any other payload adds a version (also a change back to an earlier payload), so history is kept and the
latest version per id is the row with the greatest _seq. Bad objects (no id,
unknown object type, missing fields of the pinned API version, unparsable JSON) go to raw._rejects.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from extract.warehouse import STRIPE_OBJECT_TABLES, Reject, copy_escape, insert_rejects

SOURCE = "stripe"

# Stripe's `object` field → our table suffix.
OBJECT_TABLES: dict[str, str] = {
    "customer": "customers",
    "product": "products",
    "plan": "plans",
    "price": "prices",
    "coupon": "coupons",
    "subscription": "subscriptions",
    "subscription_item": "subscription_items",
    "invoice": "invoices",
    "invoiceitem": "invoiceitems",
    "charge": "charges",
    "refund": "refunds",
    "payment_intent": "payment_intents",
    "event": "events",
}
assert set(OBJECT_TABLES.values()) == set(STRIPE_OBJECT_TABLES)

# Fields the marts rely on, per object type, in the pinned API version's shape. An object without one of them
# is of another shape (or another version) and is rejected with the field's name instead of giving a wrong number.
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "customer": ("created",),
    "plan": ("amount", "currency", "interval", "interval_count"),
    "price": ("currency", "recurring"),
    "subscription": ("customer", "status", "created", "items", "current_period_start", "current_period_end"),
    "invoice": ("customer", "subscription", "currency", "status", "created", "lines"),  # 2025-03-31 moved subscription
    "charge": ("amount", "currency", "status", "created"),
    "refund": ("amount", "currency", "created"),
    "event": ("type", "created", "data"),
}


class StripeShapeError(ValueError):
    """An object that is not in the shape of the pinned API version."""


@dataclass
class LoadResult:
    loaded: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # new versions per table
    unchanged: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    rejected: int = 0
    reject_reasons: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def merge(self, other: LoadResult) -> None:
        for key, value in other.loaded.items():
            self.loaded[key] += value
        for key, value in other.unchanged.items():
            self.unchanged[key] += value
        self.rejected += other.rejected
        for key, value in other.reject_reasons.items():
            self.reject_reasons[key] += value

    @property
    def total_loaded(self) -> int:
        return sum(self.loaded.values())


def check_shape(obj: Mapping[str, Any]) -> None:
    kind = obj.get("object")
    if kind not in OBJECT_TABLES:
        raise StripeShapeError(f"unknown object type {kind!r}")
    if obj.get("deleted"):
        return  # a deleted object carries only id, object and deleted
    for name in REQUIRED_FIELDS.get(kind, ()):
        if name not in obj:
            raise StripeShapeError(f"{kind} {obj.get('id')!r} has no field {name!r} (expected API version shape)")
    if kind == "invoice":
        lines = obj["lines"]
        if not isinstance(lines, Mapping) or "data" not in lines:
            raise StripeShapeError(f"invoice {obj.get('id')!r}: field 'lines' is not a list object")
        for line in lines["data"]:
            if "period" not in line or "amount" not in line:
                raise StripeShapeError(f"invoice {obj.get('id')!r}: a line item has no field 'period' or 'amount'")


def payload_hash(payload_text: str) -> str:
    return hashlib.sha256(payload_text.encode()).hexdigest()[:32]


def _created(obj: Mapping[str, Any]) -> datetime | None:
    value = obj.get("created")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    return None


def load_objects(
    conn: psycopg.Connection,
    objects: Iterable[Mapping[str, Any] | Reject],
    batch_id: str,
    extracted_at: datetime | None = None,
    expected_type: str | None = None,
) -> LoadResult:
    """Load Stripe objects (any mix of types) in the caller's transaction.

    `objects` may contain `Reject` items (a reader that could not parse a line hands them through so the
    reason is recorded with the rest of the batch). `expected_type` (Stripe's `object` value) rejects objects
    of any other type, for readers that know what a file or an endpoint must hold.
    """
    extracted_at = extracted_at or datetime.now(UTC)
    result = LoadResult()
    rows: dict[str, list[str]] = defaultdict(list)
    rejects: list[Reject] = []
    for obj in objects:
        if isinstance(obj, Reject):
            rejects.append(obj)
            continue
        record = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
        object_id = obj.get("id") if isinstance(obj, Mapping) else None
        if not object_id or not isinstance(object_id, str):
            rejects.append(Reject("missing id", record))
            continue
        if expected_type is not None and obj.get("object") != expected_type:
            rejects.append(Reject(f"expected a {expected_type}, got object type {obj.get('object')!r}", record))
            continue
        try:
            check_shape(obj)
        except StripeShapeError as exc:
            rejects.append(Reject(str(exc), record))
            continue
        table = OBJECT_TABLES[obj["object"]]
        created = _created(obj)
        rows[table].append(
            "\t".join(
                (
                    copy_escape(object_id),
                    copy_escape(created.isoformat() if created else None),
                    copy_escape(record),
                    payload_hash(record),
                    "t" if obj.get("deleted") else "f",
                )
            )
        )
    for table, lines in rows.items():
        stage = f"_stage_stripe_{table}"
        conn.execute(
            f"create temp table if not exists {stage}"
            " (ord bigint generated always as identity, id text, created timestamptz, payload jsonb,"
            " payload_hash text, is_deleted boolean) on commit drop"
        )
        conn.execute(f"truncate {stage}")
        with conn.cursor().copy(f"copy {stage} (id, created, payload, payload_hash, is_deleted) from stdin") as copy:
            for line in lines:
                copy.write(line + "\n")
        # The last occurrence of an id in the batch is its newest state; it becomes a version unless it equals the
        # latest stored one.
        inserted = conn.execute(
            f"""insert into raw.stripe_{table}
                    (id, created, payload, payload_hash, is_deleted, _batch_id, _extracted_at)
                select s.id, s.created, s.payload, s.payload_hash, s.is_deleted, %s, %s
                from (select distinct on (id) * from {stage} order by id, ord desc) as s
                where s.payload_hash is distinct from (
                    select r.payload_hash from raw.stripe_{table} as r where r.id = s.id order by r._seq desc limit 1)
                order by s.ord""",
            (batch_id, extracted_at),
        ).rowcount
        result.loaded[table] += inserted
        result.unchanged[table] += len(lines) - inserted
    if rejects:
        result.rejected = insert_rejects(conn, SOURCE, expected_type or "stripe", rejects, batch_id, extracted_at)
        for reject in rejects:
            result.reject_reasons[reject.reason.split(" (")[0]] += 1
    return result


def parse_json_lines(lines: Iterable[str], origin: str) -> Iterator[Mapping[str, Any] | Reject]:
    """Objects from JSONL text; an unparsable line becomes a Reject naming the file and line."""
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text:
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            yield Reject(f"unparsable JSON at {origin}:{number}: {exc.msg}", text[:10_000])
            continue
        if not isinstance(value, dict):
            yield Reject(f"not a JSON object at {origin}:{number}", text[:10_000])
            continue
        yield value
