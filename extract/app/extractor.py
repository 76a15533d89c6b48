"""The app extractor: validate app rows and load them into raw.app_* with COPY, idempotently per window.

- Append-only tables (events, api_requests): the window [start, end) on occurred_at is deleted and re-loaded in one
  transaction, so extracting the same window twice leaves the same rows. Incremental runs start at the stored
  watermark minus a lookback, for late rows.
- Mutable tables (tenants, users, jobs): every version is kept, unique on (id, updated_at); re-loading a version
  adds nothing. Staging models pick the latest version per id.
- Rows that fail validation go to raw._rejects with the reason and the original row; they are counted, never dropped.
- Each table commits in its own transaction together with its rejects, its batch record and its watermark.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from extract.app.schema import TABLES, TableSpec
from extract.app.sources import AppSource, UnparsableLine
from extract.warehouse import (
    Reject,
    Warehouse,
    ensure_raw_schema,
    get_watermark,
    insert_rejects,
    new_batch_id,
    record_batch,
    set_watermark,
)

SOURCE = "app"
CHUNK_ROWS = 20_000
log = logging.getLogger(__name__)

Progress = Callable[[str, int], None]


class RowError(ValueError):
    """A reason to reject one row."""


@dataclass
class TableResult:
    table: str
    loaded: int = 0
    rejected: int = 0
    skipped_outside_window: int = 0
    window: tuple[datetime | None, datetime | None] = (None, None)
    watermark: datetime | None = None


@dataclass
class AppExtractResult:
    batch_id: str
    source: str
    tables: dict[str, TableResult] = field(default_factory=dict)

    @property
    def loaded(self) -> int:
        return sum(result.loaded for result in self.tables.values())

    @property
    def rejected(self) -> int:
        return sum(result.rejected for result in self.tables.values())


# ------------------------------------------------------------------------------------------------ conversion


def parse_timestamp(value: Any) -> datetime:
    """A timezone-aware datetime from an ISO-8601 string or a datetime; values without an offset are UTC."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        parsed = datetime.fromisoformat(value.strip())
    else:
        raise ValueError(f"not a timestamp: {value!r}")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n"}
_INT4 = (-(2**31), 2**31 - 1)


class RowConverter:
    """Validates one table's rows in place, turning each value into what COPY (CSV format) needs.

    The per-row check is generated once per table as straight-line Python (one block per column, no loops or
    dispatch on column kinds): this is the extractor's hot path, and it keeps pace with Postgres's own COPY.
    Call it with a row's values; it returns the row's watermark timestamp or raises RowError with the reason.
    """

    def __init__(self, spec: TableSpec, known_tenants: set[str] | None):
        self.spec = spec
        names = spec.column_names
        lines = ["def convert(v):", "    mark = None"]
        for i, column in enumerate(spec.columns):
            name = column.name
            missing = f"raise RowError('missing {name}')" if column.required else f"v[{i}] = None"
            lines += [f"    x = v[{i}]", "    if x is None or x == '':", f"        {missing}", "    else:"]
            if column.kind == "text":
                lines.append(f"        if x.__class__ is not str: v[{i}] = str(x)")
            elif column.kind == "timestamptz":
                lines += [
                    "        try:",
                    "            p = fromiso(x) if x.__class__ is str else parse_timestamp(x)",
                    "        except (ValueError, TypeError):",
                    f"            p = slow_timestamp(x, '{name}')",
                    "        if p.tzinfo is None: p = p.replace(tzinfo=UTC)",
                    # Postgres reads a plain 'YYYY-MM-DD[T ]HH:MM...' string exactly as Python did: keep it.
                    "        if x.__class__ is not str or not (len(x) >= 16 and x[4] == '-' and x[7] == '-'"
                    " and x[10] in 'T ' and x[13] == ':'):",
                    f"            v[{i}] = p.isoformat()",
                ]
                if name == spec.watermark:
                    lines.append("        mark = p")
            elif column.kind == "int":
                lines += [
                    "        try:",
                    f"            n = int(x) if x.__class__ is str and '_' not in x else to_int(x, '{name}')",
                    "        except ValueError:",
                    f"            n = to_int(x, '{name}')",
                    "        if not -2147483648 <= n <= 2147483647:",
                    f"            raise RowError(f'{name} is out of range: {{n}}')",
                    f"        v[{i}] = n",
                ]
            elif column.kind == "float":
                # A numeric string Python reads Postgres reads the same way: it is kept as it came.
                lines += [
                    "        try:",
                    f"            r = float(x) if x.__class__ is str and '_' not in x else to_float(x, '{name}')",
                    "        except ValueError:",
                    f"            r = to_float(x, '{name}')",
                    "        if r != r or r == INF or r == -INF:",
                    f"            raise RowError(f'{name} is not a finite number: {{x!r}}')",
                    f"        if x.__class__ is not str: v[{i}] = r",
                ]
            else:
                helper = {"bool": "to_bool", "json": "to_json"}[column.kind]
                lines.append(f"        v[{i}] = {helper}(x, '{name}')")
            if name in spec.allowed:
                choices = ", ".join(sorted(spec.allowed[name]))
                lines += [
                    f"        if v[{i}] not in allowed_{i}:",
                    f"            raise RowError(f'{name} {{v[{i}]!r}} is not one of {choices}')",
                ]
        if known_tenants is not None and spec.has_tenant:
            t = names.index("tenant_id")
            lines += [f"    if v[{t}] not in tenants:", f"        raise RowError(f'unknown tenant_id {{v[{t}]!r}}')"]
        lines.append("    return mark")
        namespace: dict[str, Any] = {
            "RowError": RowError,
            "UTC": UTC,
            "fromiso": datetime.fromisoformat,
            "parse_timestamp": parse_timestamp,
            "slow_timestamp": self._slow_timestamp,
            "INF": float("inf"),
            "tenants": known_tenants,
            "to_int": self._int,
            "to_float": self._float,
            "to_bool": self._bool,
            "to_json": self._json,
        }
        for name, values in spec.allowed.items():
            namespace[f"allowed_{names.index(name)}"] = values
        exec(compile("\n".join(lines), f"<convert {spec.name}>", "exec"), namespace)  # noqa: S102 - our own code
        self._convert = namespace["convert"]

    def __call__(self, values: list[Any]) -> datetime:
        return self._convert(values)  # type: ignore[no-any-return]

    @staticmethod
    def _slow_timestamp(value: Any, name: str) -> datetime:
        try:
            return parse_timestamp(value)
        except (ValueError, TypeError):
            raise RowError(f"unparsable {name}: {str(value)[:60]!r}") from None

    @staticmethod
    def _int(value: Any, name: str) -> int:
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str) and "_" not in value:
            try:
                number = int(value)
            except ValueError:
                number = None
        if number is None:
            raise RowError(f"{name} is not an integer: {str(value)[:60]!r}")
        if not _INT4[0] <= number <= _INT4[1]:
            raise RowError(f"{name} is out of range: {number}")
        return number

    @staticmethod
    def _float(value: Any, name: str) -> float:
        try:
            if isinstance(value, bool) or (isinstance(value, str) and "_" in value):
                raise ValueError
            real = float(value)
        except (ValueError, TypeError):
            raise RowError(f"{name} is not a number: {str(value)[:60]!r}") from None
        if real != real or real in (float("inf"), float("-inf")):
            raise RowError(f"{name} is not a finite number: {value!r}")
        return real

    @staticmethod
    def _bool(value: Any, name: str) -> str:
        if isinstance(value, bool):
            return "t" if value else "f"
        text = str(value).strip().lower()
        if text in _TRUE:
            return "t"
        if text in _FALSE:
            return "f"
        raise RowError(f"{name} is not a boolean: {str(value)[:60]!r}")

    @staticmethod
    def _json(value: Any, name: str) -> str:
        if isinstance(value, str):
            try:
                json.loads(value)
            except json.JSONDecodeError:
                raise RowError(f"{name} is not valid JSON") from None
            return value
        return json.dumps(value, separators=(",", ":"), default=str)


def _record_text(spec: TableSpec, row: list[Any]) -> str:
    """The original row, for the rejects table."""
    if isinstance(row, UnparsableLine):
        return row.text
    return json.dumps(dict(zip(spec.column_names, row, strict=False)), default=str, sort_keys=True)


# ------------------------------------------------------------------------------------------------ loading


def _known_tenants(conn: psycopg.Connection) -> set[str]:
    return {row[0] for row in conn.execute("select distinct id from raw.app_tenants")}


def _window_for(
    conn: psycopg.Connection,
    spec: TableSpec,
    start: datetime | None,
    end: datetime | None,
    lookback: timedelta,
    full_refresh: bool,
) -> tuple[datetime | None, datetime | None]:
    """The window to load.

    Append-only tables take the window asked for, or, incrementally, everything since the watermark minus the
    lookback. Mutable tables are snapshots of current state: whatever the window, they load every version changed
    since their watermark (everything on a first load or a full refresh), so a partition run never lacks the
    tenants and users its events refer to.
    """
    watermark = None if full_refresh else get_watermark(conn, SOURCE, spec.name)
    if spec.mode == "versioned":
        return watermark, None
    if start is not None:
        return start, end
    if watermark is None:
        return None, end
    return watermark - lookback, end


def _iter_rows(
    spec: TableSpec,
    rows: Iterable[list[Any]],
    window: tuple[datetime | None, datetime | None],
    known_tenants: set[str] | None,
    tail: list[str],
    result: TableResult,
    rejects: list[Reject],
    progress: Progress | None,
) -> Iterator[list[Any]]:
    """Valid rows of the window, converted and with the batch columns appended; the rest counted or rejected."""
    start, end = window
    convert = RowConverter(spec, known_tenants)
    seen = 0
    for row in rows:
        seen += 1
        if progress is not None and seen % 50_000 == 0:
            progress(spec.name, seen)
        if isinstance(row, UnparsableLine):
            rejects.append(Reject(row.reason, row.text))
            continue
        original = list(row)
        try:
            mark = convert(row)
        except RowError as exc:
            rejects.append(Reject(str(exc), _record_text(spec, original)))
            continue
        if (start is not None and mark < start) or (end is not None and mark >= end):
            result.skipped_outside_window += 1
            continue
        if result.watermark is None or mark > result.watermark:
            result.watermark = mark
        result.loaded += 1
        row += tail
        yield row
    if progress is not None:
        progress(spec.name, seen)


def _copy_rows(conn: psycopg.Connection, table: str, columns: Sequence[str], rows: Iterable[list[Any]]) -> None:
    """COPY in CSV format: an unquoted empty field is NULL (empty strings are NULL in the app contract too)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    with conn.cursor().copy(f"copy {table} ({', '.join(columns)}) from stdin with (format csv)") as copy:
        pending = 0
        for row in rows:
            writer.writerow(row)
            pending += 1
            if pending >= CHUNK_ROWS:
                copy.write(buffer.getvalue())
                buffer.seek(0)
                buffer.truncate()
                pending = 0
        if pending:
            copy.write(buffer.getvalue())


def load_table(
    conn: psycopg.Connection,
    spec: TableSpec,
    rows: Iterable[list[Any]],
    *,
    window: tuple[datetime | None, datetime | None],
    batch_id: str,
    known_tenants: set[str] | None,
    progress: Progress | None = None,
) -> TableResult:
    """Load one table's rows for a window in one transaction (the caller's connection, not autocommit)."""
    extracted_at = datetime.now(UTC)
    result = TableResult(spec.name, window=window)
    rejects: list[Reject] = []
    columns = [*spec.column_names, "_batch_id", "_extracted_at"]
    valid = _iter_rows(
        spec, rows, window, known_tenants, [batch_id, extracted_at.isoformat()], result, rejects, progress
    )
    with conn.transaction():
        conn.execute("set local timezone = 'UTC'")
        if spec.mode == "append":
            start, end = window
            conn.execute(
                f"delete from {spec.raw_table} where (%(start)s::timestamptz is null or {spec.watermark} >= %(start)s)"
                f" and (%(end)s::timestamptz is null or {spec.watermark} < %(end)s)",
                {"start": start, "end": end},
            )
            _copy_rows(conn, spec.raw_table, columns, valid)
        else:
            stage = f"_stage_app_{spec.name}"
            conn.execute(f"create temp table {stage} (like {spec.raw_table}) on commit drop")
            _copy_rows(conn, stage, columns, valid)
            inserted = conn.execute(
                f"insert into {spec.raw_table} select distinct on (id, updated_at) * from {stage}"
                " on conflict (id, updated_at) do nothing"
            ).rowcount
            log.debug("%s: %s new versions of %s rows", spec.name, inserted, result.loaded)
        if rejects:
            result.rejected = insert_rejects(conn, SOURCE, spec.name, rejects, batch_id, extracted_at, window)
        record_batch(
            conn, batch_id + ":" + spec.name, SOURCE, spec.name, window, result.loaded, result.rejected, extracted_at
        )
        if result.watermark is not None:
            set_watermark(conn, SOURCE, spec.name, result.watermark)
    return result


def extract_app(
    warehouse: Warehouse,
    source: AppSource,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    tables: Sequence[str] | None = None,
    lookback: timedelta | None = None,
    full_refresh: bool = False,
    progress: Progress | None = None,
) -> AppExtractResult:
    """Extract the app tables (tenants first: the others are checked against the known tenants)."""
    names = list(tables) if tables else list(TABLES)
    unknown = [name for name in names if name not in TABLES]
    if unknown:
        raise ValueError(f"unknown app table(s): {', '.join(unknown)}; expected {', '.join(TABLES)}")
    if start is not None and end is not None and start >= end:
        raise ValueError(f"empty window: start {start.isoformat()} is not before end {end.isoformat()}")
    lookback = lookback if lookback is not None else timedelta(hours=warehouse.settings.app_lookback_hours)
    batch_id = new_batch_id()
    result = AppExtractResult(batch_id, source.description)
    with warehouse.connect() as conn:
        ensure_raw_schema(conn)
        conn.commit()
        ordered = [name for name in TABLES if name in names]
        for name in ordered:
            spec = TABLES[name]
            window = _window_for(conn, spec, start, end, lookback, full_refresh)
            # Tenants are windowed on updated_at, but every tenant ever seen is known, so a late user still loads.
            known = _known_tenants(conn) if spec.has_tenant else None
            rows = source.iter_rows(name, window[0], window[1])
            result.tables[name] = load_table(
                conn, spec, rows, window=window, batch_id=batch_id, known_tenants=known, progress=progress
            )
            log.info(
                "app.%s: %s loaded, %s rejected, window %s..%s",
                name,
                result.tables[name].loaded,
                result.tables[name].rejected,
                window[0],
                window[1],
            )
    return result
