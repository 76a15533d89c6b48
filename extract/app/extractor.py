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

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from extract.app.schema import TABLES, Column, TableSpec
from extract.app.sources import AppSource, UnparsableLine
from extract.warehouse import (
    Reject,
    Warehouse,
    copy_escape,
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


def _convert(column: Column, value: Any) -> tuple[str, datetime | None]:
    """(COPY text field, parsed timestamp or None) for one value; raises RowError with the reason."""
    if value is None or (isinstance(value, str) and value == ""):
        if column.required:
            raise RowError(f"missing {column.name}")
        return "\\N", None
    kind = column.kind
    if kind == "text":
        return copy_escape(value if isinstance(value, str) else str(value)), None
    if kind == "timestamptz":
        try:
            parsed = parse_timestamp(value)
        except (ValueError, TypeError):
            raise RowError(f"unparsable {column.name}: {str(value)[:60]!r}") from None
        return parsed.isoformat(), parsed
    if kind == "int":
        try:
            number = int(value) if not isinstance(value, float) or value.is_integer() else None
        except (ValueError, TypeError):
            number = None
        if number is None or isinstance(value, bool):
            raise RowError(f"{column.name} is not an integer: {str(value)[:60]!r}")
        return str(number), None
    if kind == "float":
        try:
            real = float(value)
        except (ValueError, TypeError):
            raise RowError(f"{column.name} is not a number: {str(value)[:60]!r}") from None
        if real != real or real in (float("inf"), float("-inf")):
            raise RowError(f"{column.name} is not a finite number: {value!r}")
        return repr(real), None
    if kind == "bool":
        if isinstance(value, bool):
            return ("t" if value else "f"), None
        text = str(value).strip().lower()
        if text in _TRUE:
            return "t", None
        if text in _FALSE:
            return "f", None
        raise RowError(f"{column.name} is not a boolean: {str(value)[:60]!r}")
    if kind == "json":
        if isinstance(value, str):
            try:
                json.loads(value)
            except json.JSONDecodeError:
                raise RowError(f"{column.name} is not valid JSON") from None
            return copy_escape(value), None
        return copy_escape(json.dumps(value, separators=(",", ":"), default=str)), None
    raise AssertionError(kind)


def _record_text(row: Mapping[str, Any]) -> str:
    if isinstance(row, UnparsableLine):
        return row.text
    return json.dumps(dict(row), default=str, sort_keys=True)


@dataclass
class _Converted:
    line: str
    mark: datetime


def convert_row(spec: TableSpec, row: Mapping[str, Any], known_tenants: set[str] | None) -> _Converted:
    """One source row as a COPY text line (without the batch columns); raises RowError."""
    if isinstance(row, UnparsableLine):
        raise RowError(row.reason)
    fields: list[str] = []
    mark: datetime | None = None
    for column in spec.columns:
        text, parsed = _convert(column, row.get(column.name))
        if column.name == spec.watermark:
            mark = parsed
        allowed = spec.allowed.get(column.name)
        if allowed is not None and text != "\\N" and row.get(column.name) not in allowed:
            raise RowError(f"{column.name} {row.get(column.name)!r} is not one of {', '.join(sorted(allowed))}")
        fields.append(text)
    if known_tenants is not None and str(row.get("tenant_id")) not in known_tenants:
        raise RowError(f"unknown tenant_id {row.get('tenant_id')!r}")
    assert mark is not None  # the watermark column is required
    return _Converted("\t".join(fields), mark)


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


def _iter_lines(
    spec: TableSpec,
    rows: Iterable[Mapping[str, Any]],
    window: tuple[datetime | None, datetime | None],
    known_tenants: set[str] | None,
    suffix: str,
    result: TableResult,
    rejects: list[Reject],
    progress: Progress | None,
) -> Iterator[str]:
    start, end = window
    seen = 0
    for row in rows:
        seen += 1
        if progress is not None and seen % 50_000 == 0:
            progress(spec.name, seen)
        try:
            converted = convert_row(spec, row, known_tenants)
        except RowError as exc:
            rejects.append(Reject(str(exc), _record_text(row)))
            continue
        if (start is not None and converted.mark < start) or (end is not None and converted.mark >= end):
            result.skipped_outside_window += 1
            continue
        if result.watermark is None or converted.mark > result.watermark:
            result.watermark = converted.mark
        result.loaded += 1
        yield converted.line + suffix
    if progress is not None:
        progress(spec.name, seen)


def _copy_lines(conn: psycopg.Connection, table: str, columns: Sequence[str], lines: Iterable[str]) -> None:
    with conn.cursor().copy(f"copy {table} ({', '.join(columns)}) from stdin") as copy:
        chunk: list[str] = []
        for line in lines:
            chunk.append(line)
            if len(chunk) >= CHUNK_ROWS:
                copy.write("\n".join(chunk) + "\n")
                chunk.clear()
        if chunk:
            copy.write("\n".join(chunk) + "\n")


def load_table(
    conn: psycopg.Connection,
    spec: TableSpec,
    rows: Iterable[Mapping[str, Any]],
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
    suffix = f"\t{batch_id}\t{extracted_at.isoformat()}"
    columns = [*spec.column_names, "_batch_id", "_extracted_at"]
    lines = _iter_lines(spec, rows, window, known_tenants, suffix, result, rejects, progress)
    with conn.transaction():
        if spec.mode == "append":
            start, end = window
            conn.execute(
                f"delete from {spec.raw_table} where (%(start)s::timestamptz is null or {spec.watermark} >= %(start)s)"
                f" and (%(end)s::timestamptz is null or {spec.watermark} < %(end)s)",
                {"start": start, "end": end},
            )
            _copy_lines(conn, spec.raw_table, columns, lines)
        else:
            stage = f"_stage_app_{spec.name}"
            conn.execute(f"create temp table {stage} (like {spec.raw_table}) on commit drop")
            _copy_lines(conn, stage, columns, lines)
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
