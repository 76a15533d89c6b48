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
from psycopg.copy import QueuedLibpqWriter

from extract.app.schema import TABLES, TableSpec
from extract.app.sources import AppSource, TableRows, UnparsableLine
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
_NO_WATERMARK = datetime.min.replace(tzinfo=UTC)


class RowChecker:
    """Checks one table's rows for one load: validation, the window, the watermark, and what COPY is sent.

    The check is generated once per load as straight-line Python: one loop over a batch with one block per column
    inlined (no per-row calls, no dispatch on column kinds), because this is the extractor's hot path. Rows failing
    a check are appended to `rejects` with the reason, rows outside the window are counted, and the others go to
    the output: a CSV line whose values Postgres reads exactly as Python did is kept as it came (`keep`); any other
    row, its values rewritten for Postgres (timestamps normalised, JSON values serialised, ...), goes to `rewrite`.
    """

    def __init__(
        self,
        spec: TableSpec,
        columns: Sequence[str],
        known_tenants: set[str] | None,
        window: tuple[datetime | None, datetime | None],
    ):
        self.spec_name = spec.name
        self.columns = tuple(columns)
        self.rejects: list[Reject] = []
        self.skipped = 0
        self._max = _NO_WATERMARK
        namespace: dict[str, Any] = {
            "RowError": RowError,
            "Reject": Reject,
            "UnparsableLine": UnparsableLine,
            "record": self._record,
            "UTC": UTC,
            "fromiso": datetime.fromisoformat,
            "parse_timestamp": parse_timestamp,
            "slow_timestamp": self._slow_timestamp,
            "INF": float("inf"),
            "PLAIN_TIMESTAMP": ("--T:", "-- :"),
            "tenants": known_tenants,
            "start": window[0],
            "end": window[1],
            "to_int": self._int,
            "to_float": self._float,
            "to_bool": self._bool,
            "to_json": self._json,
            **{f"allowed_{name}": values for name, values in spec.allowed.items()},
        }
        check_tenant = known_tenants is not None and "tenant_id" in self.columns
        code = "\n".join(
            [
                *self._loop(spec, self.columns, check_tenant, window, text_lines=True),
                *self._loop(spec, self.columns, check_tenant, window, text_lines=False),
            ]
        )
        exec(compile(code, f"<check {spec.name}>", "exec"), namespace)  # noqa: S102 - our own generated code
        self._lines = namespace["check_lines"]
        self._rows = namespace["check_rows"]

    def lines(self, lines: list[str], first_line: int, keep: list[str], rewrite: list[list[Any]]) -> int:
        """Check unquoted CSV lines (no terminators; `first_line` is the first one's line number in the file)."""
        self.skipped, self._max = self._lines(lines, first_line, keep, rewrite, self.rejects, self.skipped, self._max)
        return len(lines)

    def rows(self, rows: list[list[Any]], rewrite: list[list[Any]]) -> int:
        """Check rows of values (strings from CSV, JSON values, database values); each valid one is rewritten."""
        self.skipped, self._max = self._rows(rows, rewrite, self.rejects, self.skipped, self._max)
        return len(rows)

    @property
    def watermark(self) -> datetime | None:
        """The greatest watermark of the rows loaded so far."""
        return None if self._max is _NO_WATERMARK else self._max

    def _record(self, values: list[Any]) -> str:
        """A rejected row as it came, for the rejects table."""
        return json.dumps(dict(zip(self.columns, values, strict=False)), default=str, sort_keys=True)

    @classmethod
    def _loop(
        cls,
        spec: TableSpec,
        columns: tuple[str, ...],
        check_tenant: bool,
        window: tuple[datetime | None, datetime | None],
        *,
        text_lines: bool,
    ) -> list[str]:
        width = len(columns)
        if text_lines:
            code = [
                "def check_lines(lines, number, keep, rewrite, rejects, skipped, watermark):",
                "    number -= 1",
                "    for line in lines:",
                "        number += 1",
                "        if not line:",
                "            continue",
                "        v = line.split(',')",
                f"        if len(v) != {width}:",
                f"            reason = f'line {{number}} has {{len(v)}} fields, header has {width}'",
                "            rejects.append(Reject(reason, line))",
                "            continue",
            ]
        else:
            code = [
                "def check_rows(rows, rewrite, rejects, skipped, watermark):",
                "    for v in rows:",
                "        if v.__class__ is UnparsableLine:",
                "            rejects.append(Reject(v.reason, v.text))",
                "            continue",
                "        original = list(v)",
            ]
        code += ["        try:", "            changed = False"]
        code += [f"            {line}" for line in cls._checks(spec, columns, check_tenant, all_strings=text_lines)]
        original = "line.split(',')" if text_lines else "original"
        code += [
            "        except RowError as exc:",
            f"            rejects.append(Reject(str(exc), record({original})))",
            "            continue",
        ]
        start, end = window
        if start is not None:
            code += ["        if mark < start:", "            skipped += 1", "            continue"]
        if end is not None:
            code += ["        if mark >= end:", "            skipped += 1", "            continue"]
        code += ["        if mark > watermark:", "            watermark = mark"]
        if text_lines:
            code += [
                "        if changed:",
                "            rewrite.append(v)",
                "        else:",
                "            keep.append(line)",
            ]
        else:
            code += ["        rewrite.append(v)"]
        code += ["    return skipped, watermark", ""]
        return code

    @staticmethod
    def _checks(spec: TableSpec, columns: tuple[str, ...], check_tenant: bool, *, all_strings: bool) -> list[str]:
        """The checks of one row `v` (values in `columns` order): set `mark`, set `changed` on a rewrite, or raise.

        With `all_strings` (a CSV line's fields) the code is leaner: no type tests, and an empty optional text field
        needs nothing, since COPY reads an unquoted empty field as NULL.
        """
        kinds = {column.name: column for column in spec.columns}
        code: list[str] = []
        for i, name in enumerate(columns):
            column = kinds[name]
            tenant = check_tenant and name == "tenant_id"
            if all_strings and column.kind == "text" and not tenant and name not in spec.allowed:
                if column.required:
                    code += [f"if not v[{i}]:", f"    raise RowError('missing {name}')"]
                continue
            if column.required:
                missing = f"raise RowError('missing {name}')"
            elif column.kind == "bool":  # the raw column's default: it is NOT NULL
                missing = f"v[{i}] = 'f'; changed = True"
            else:
                missing = f"v[{i}] = None"
            empty = "not x" if all_strings else "x is None or x == ''"
            code += [f"x = v[{i}]", f"if {empty}:", f"    {missing}", "else:"]
            if column.kind == "text":
                code.append("    pass" if all_strings else f"    if x.__class__ is not str: x = v[{i}] = str(x)")
            elif column.kind == "timestamptz":
                parse = "fromiso(x)" if all_strings else "fromiso(x) if x.__class__ is str else parse_timestamp(x)"
                not_text = "" if all_strings else "x.__class__ is not str or "
                code += [
                    "    try:",
                    f"        p = {parse}",
                    "    except (ValueError, TypeError):",
                    f"        p = slow_timestamp(x, '{name}')",
                    "    if p.tzinfo is None: p = p.replace(tzinfo=UTC)",
                    # Postgres reads a plain 'YYYY-MM-DD[T ]HH:MM...' string exactly as Python did: keep it. The
                    # slice takes the characters at 4, 7, 10 and 13.
                    f"    if {not_text}x[4:14:3] not in PLAIN_TIMESTAMP:",
                    f"        v[{i}] = p.isoformat(); changed = True",
                ]
                if name == spec.watermark:
                    code.append("    mark = p")
            elif column.kind in ("int", "float"):
                # A number Python reads from ASCII text without '_' Postgres reads the same way: the text is kept.
                cast, helper = ("int", "to_int") if column.kind == "int" else ("float", "to_float")
                code += [
                    "    try:",
                    f"        n = {cast}(x)",
                    "    except (ValueError, TypeError):",
                    f"        n = {helper}(x, '{name}')",
                    "    if x.__class__ is not str or not x.isascii() or '_' in x:",
                    f"        n = v[{i}] = {helper}(x, '{name}'); changed = True",
                ]
                if column.kind == "int":
                    code += [
                        "    if not -2147483648 <= n <= 2147483647:",
                        f"        raise RowError(f'{name} is out of range: {{n}}')",
                    ]
                else:
                    code += [
                        "    if n != n or n == INF or n == -INF:",
                        f"        raise RowError(f'{name} is not a finite number: {{x!r}}')",
                    ]
            else:
                # Every spelling to_bool accepts Postgres accepts too; JSON text is kept as it came.
                helper = {"bool": "to_bool", "json": "to_json"}[column.kind]
                code.append(f"    v[{i}] = {helper}(x, '{name}')")
            if name in spec.allowed:
                choices = ", ".join(sorted(spec.allowed[name]))
                code += [
                    f"    if x not in allowed_{name}:",
                    f"        raise RowError(f'{name} {{x!r}} is not one of {choices}')",
                ]
            if tenant:
                code += ["    if x not in tenants:", "        raise RowError(f'unknown tenant_id {x!r}')"]
        return code

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
                json.loads(value, parse_constant=_no_json_constant)
            except ValueError:  # JSONDecodeError, or NaN / Infinity, which Postgres's jsonb refuses
                raise RowError(f"{name} is not valid JSON") from None
            return value
        return json.dumps(value, separators=(",", ":"), default=str)


def _no_json_constant(name: str) -> None:
    raise ValueError(name)


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


def _copy_chunks(
    checker: RowChecker, source: TableRows, tail: Sequence[str], result: TableResult, progress: Progress | None
) -> Iterator[str]:
    """COPY data (CSV format) for the valid rows of the window, batch by batch.

    A CSV line whose values passed unchanged is sent as it came, with the batch id appended: no parsing into
    Python values and writing back, which is what lets the extractor keep pace with Postgres's own COPY.
    """
    line_tail = "," + ",".join(tail) + "\n"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    seen = 0
    for batch in source.batches:
        keep: list[str] = []
        rewrite: list[list[Any]] = []
        if batch.lines is not None:
            count = checker.lines(batch.lines, batch.first_line, keep, rewrite)
        else:
            count = checker.rows(batch.rows or [], rewrite)
        result.loaded += len(keep) + len(rewrite)
        if keep:
            buffer.write(line_tail.join(keep) + line_tail)
        for row in rewrite:
            row += tail
        writer.writerows(rewrite)
        seen, before = seen + count, seen
        if progress is not None and seen // 50_000 != before // 50_000:
            progress(checker.spec_name, seen)
        if buffer.tell():
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if progress is not None:
        progress(checker.spec_name, seen)


def _copy(conn: psycopg.Connection, table: str, columns: Sequence[str], chunks: Iterable[str]) -> None:
    """COPY in CSV format: an unquoted empty field is NULL (empty strings are NULL in the app contract too)."""
    cursor = conn.cursor()
    # The queued writer sends from a thread of its own, so Postgres parses one chunk while Python checks the next.
    writer = QueuedLibpqWriter(cursor)
    with cursor.copy(f"copy {table} ({', '.join(columns)}) from stdin with (format csv)", writer=writer) as copy:
        for chunk in chunks:
            copy.write(chunk)


def load_table(
    conn: psycopg.Connection,
    spec: TableSpec,
    source: TableRows,
    *,
    window: tuple[datetime | None, datetime | None],
    batch_id: str,
    known_tenants: set[str] | None,
    progress: Progress | None = None,
) -> TableResult:
    """Load one table's rows for a window in one transaction (the caller's connection, not autocommit)."""
    result = TableResult(spec.name, window=window)
    checker = RowChecker(spec, source.columns, known_tenants, window)
    columns = [*source.columns, "_batch_id"]  # _extracted_at: the column default, the transaction's start
    chunks = _copy_chunks(checker, source, [batch_id], result, progress)
    with conn.transaction():
        conn.execute("set local timezone = 'UTC'")
        extracted_at = conn.execute("select now()").fetchone()[0]  # type: ignore[index]
        if spec.mode == "append":
            start, end = window
            conn.execute(
                f"delete from {spec.raw_table} where (%(start)s::timestamptz is null or {spec.watermark} >= %(start)s)"
                f" and (%(end)s::timestamptz is null or {spec.watermark} < %(end)s)",
                {"start": start, "end": end},
            )
            _copy(conn, spec.raw_table, columns, chunks)
        else:
            stage = f"_stage_app_{spec.name}"
            conn.execute(f"create temp table {stage} (like {spec.raw_table} including defaults) on commit drop")
            _copy(conn, stage, columns, chunks)
            inserted = conn.execute(
                f"insert into {spec.raw_table} select distinct on (id, updated_at) * from {stage}"
                " on conflict (id, updated_at) do nothing"
            ).rowcount
            log.debug("%s: %s new versions of %s rows", spec.name, inserted, result.loaded)
        result.skipped_outside_window, result.watermark = checker.skipped, checker.watermark
        if checker.rejects:
            result.rejected = insert_rejects(conn, SOURCE, spec.name, checker.rejects, batch_id, extracted_at, window)
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
            rows = source.read(name, window[0], window[1])
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
