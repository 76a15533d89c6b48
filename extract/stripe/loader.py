"""The one way Stripe objects reach the warehouse: dump files and API pages both come through `load_objects`.

Each object type has a table `raw.stripe_<type>` (_seq, id, created, payload jsonb, payload_hash, is_deleted,
_batch_id, _extracted_at). Postgres judges every object before it lands (extract/checks.py, from the declarations
in extract/tables.py): the payload must be JSON Postgres can store (no NaN, no NUL), have a string id and a known
object type, and every field the staging models read must hold what they cast it to (integer amounts, Unix times
in range and `created` not in the future, ISO 4217 currencies, known statuses, invoice lines with amount and period).
A bad object goes to raw._rejects with its reason (file and line for a dump); the others load.

Versions: an object adds a version unless its payload equals the latest stored version of its id, so loading twice
adds nothing and history is kept. The same id more than once in one load: the last occurrence is the object's state,
each earlier one is rejected as its duplicate or as a conflicting version, naming the one kept.
Counts: objects = new versions + unchanged + rejected.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from extract.checks import stripe_check_sql
from extract.tables import STRIPE_OBJECTS
from extract.warehouse import Reject, copy_escape, insert_rejects, insert_rejects_select

SOURCE = "stripe"

# Stripe's `object` field → our table suffix.
OBJECT_TABLES: dict[str, str] = {kind: spec.table for kind, spec in STRIPE_OBJECTS.items()}
DEFAULT_FUTURE_TOLERANCE = timedelta(minutes=10)


@dataclass
class Sourced:
    """An object (or any JSON value) with where it came from, for the reason should it be rejected."""

    where: str  # e.g. "customers.jsonl:4"
    value: Any


@dataclass
class LoadResult:
    loaded: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # new versions per table
    unchanged: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    rejected: int = 0
    reject_reasons: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    failed: dict[str, str] = field(default_factory=dict)  # object type -> why it did not load at all
    skipped: list[str] = field(default_factory=list)  # object types whose file was unchanged and not read (dump)

    def merge(self, other: LoadResult) -> None:
        for key, value in other.loaded.items():
            self.loaded[key] += value
        for key, value in other.unchanged.items():
            self.unchanged[key] += value
        self.rejected += other.rejected
        for key, value in other.reject_reasons.items():
            self.reject_reasons[key] += value
        self.failed.update(other.failed)
        self.skipped += other.skipped

    @property
    def total_loaded(self) -> int:
        return sum(self.loaded.values())


def payload_hash(payload_text: str) -> str:
    return hashlib.sha256(payload_text.encode()).hexdigest()[:32]


def _serialise(value: Any) -> str | None:
    """Canonical JSON text of a value (None when it cannot be written: nested too deeply, not JSON)."""
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    except (RecursionError, ValueError, TypeError):
        return None


def _stage(
    conn: psycopg.Connection, objects: Iterable[Mapping[str, Any] | Reject | Sourced], rejects: list[Reject]
) -> str:
    """COPY the objects into a staging table (payload as text: Postgres judges it); returns the table's name."""
    stage = "_stage_stripe"
    conn.execute(
        f"create temp table if not exists {stage}"
        " (ord bigint, where_ text, payload text, payload_hash text) on commit drop"
    )
    conn.execute(f"truncate {stage}")
    with conn.cursor().copy(f"copy {stage} (ord, where_, payload, payload_hash) from stdin") as copy:
        for ord_, item in enumerate(objects):
            if isinstance(item, Reject):
                rejects.append(item)
                continue
            where, value = (item.where, item.value) if isinstance(item, Sourced) else ("", item)
            text = _serialise(value)
            if text is None:
                prefix = f"{where}: " if where else ""
                rejects.append(Reject(f"{prefix}not serialisable as JSON (nested too deeply?)", repr(value)[:10_000]))
                continue
            copy.write("\t".join((str(ord_), copy_escape(where), copy_escape(text), payload_hash(text))) + "\n")
    return stage


def load_objects(
    conn: psycopg.Connection,
    objects: Iterable[Mapping[str, Any] | Reject | Sourced],
    batch_id: str,
    extracted_at: datetime | None = None,
    expected_type: str | None = None,
    future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
) -> LoadResult:
    """Load Stripe objects (any mix of types) in the caller's transaction.

    `objects` may contain `Reject` items (a reader that could not parse a line hands them through so the reason is
    recorded with the rest of the batch) and `Sourced` items (an object and its file and line). `expected_type`
    (Stripe's `object` value) rejects objects of any other type, for readers that know what a file or an endpoint
    must hold.
    """
    extracted_at = extracted_at or datetime.now(UTC)
    result = LoadResult()
    rejects: list[Reject] = []
    stage = _stage(conn, objects, rejects)
    ceiling = conn.execute("select now()").fetchone()[0] + future_tolerance  # type: ignore[index]
    checked = "_stripe_checked"
    conn.execute(f"drop table if exists {checked}")
    conn.execute(
        f"create temp table {checked} on commit drop as {stripe_check_sql(stage, expected_type)}", {"ceiling": ceiling}
    )
    table_name = expected_type or "stripe"
    found = insert_rejects_select(
        conn,
        SOURCE,
        table_name,
        f"select case when where_ <> '' then where_ || ': ' else '' end || reason as reason, record"
        f" from {checked} where reason is not null",
        {},
        batch_id,
    )
    if found:
        for reason, count in conn.execute(
            f"select reason, count(*) from {checked} where reason is not null group by reason"
        ).fetchall():
            result.reject_reasons[reason.split(" (")[0]] += count
    # The same id more than once in a load: the last occurrence is the object's state; each earlier one is rejected
    # as its duplicate (same payload) or as a conflicting version (another payload), naming the one kept.
    where = "coalesce(nullif(where_, ''), 'object ' || (ord + 1))"
    found += insert_rejects_select(
        conn,
        SOURCE,
        table_name,
        f"""select {where} || ': ' || case when payload_hash = keep_hash
                      then 'duplicate of ' || keep_where || ' (same id, same payload; that one is kept)'
                      else 'conflicts with ' || keep_where || ' (same id, another payload; the later one is kept)'
                      end as reason, record
            from (select c.*, first_value({where}) over w as keep_where, first_value(payload_hash) over w as keep_hash,
                         row_number() over w as rn
                  from {checked} c where reason is null window w as (partition by table_name, id order by ord desc)) d
            where rn > 1""",
        {},
        batch_id,
    )
    for table, valid in conn.execute(
        f"select table_name, count(distinct id) from {checked} where reason is null group by table_name order by 1"
    ).fetchall():
        # The last occurrence of an id adds a version unless it equals the latest stored one.
        inserted = conn.execute(
            f"""insert into raw.stripe_{table}
                    (id, created, payload, payload_hash, is_deleted, _batch_id, _extracted_at)
                select s.id, s.created, s.payload, s.payload_hash, s.is_deleted, %s, %s
                from (select distinct on (c.id) c.* from {checked} c
                      where c.reason is null and c.table_name = %s order by c.id, c.ord desc) as s
                where s.payload_hash is distinct from (
                    select r.payload_hash from raw.stripe_{table} as r where r.id = s.id order by r._seq desc limit 1)
                order by s.ord""",
            (batch_id, extracted_at, table),
        ).rowcount
        result.loaded[table] += inserted
        result.unchanged[table] += valid - inserted
    if rejects:
        insert_rejects(conn, SOURCE, table_name, rejects, batch_id, extracted_at)
        for reject in rejects:
            result.reject_reasons[reject.reason.split(" (")[0].split(": ", 1)[-1]] += 1
    result.rejected = found + len(rejects)
    return result


def check_objects(conn: psycopg.Connection, objects: Iterable[Mapping[str, Any]]) -> list[str | None]:
    """Why each object would be rejected (None: it would load), without loading anything."""
    with conn.transaction(force_rollback=True):
        stage = _stage(conn, objects, [])
        rows = conn.execute(
            f"select reason from ({stripe_check_sql(stage, None)}) c order by ord",
            {"ceiling": datetime.now(UTC) + DEFAULT_FUTURE_TOLERANCE},
        ).fetchall()
    return [row[0] for row in rows]


def parse_json_lines(lines: Iterable[bytes], origin: str) -> Iterator[Sourced | Reject]:
    """Values from JSONL bytes, each with its file and line; a line that is not UTF-8 or not JSON (or nests too
    deeply for a parser) becomes a Reject naming the file and line. A BOM before the first line is dropped."""
    for number, raw in enumerate(lines, start=1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        where = f"{origin}:{number}"
        try:
            text = raw.decode("utf-8").strip()
        except UnicodeDecodeError as exc:
            shown = raw.decode("utf-8", "backslashreplace").strip()
            yield Reject(f"{where}: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})", shown)
            continue
        if not text:
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            yield Reject(f"{where}: unparsable JSON: {exc.msg}", text[:10_000].replace("\x00", "\\u0000"))
            continue
        except RecursionError:
            yield Reject(f"{where}: JSON nested too deeply", text[:10_000])
            continue
        yield Sourced(where, value)
