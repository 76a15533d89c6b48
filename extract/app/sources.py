"""Where app rows come from: the app's database (SQLAlchemy URL) or a folder of `<table>.jsonl|csv` files.

A source opens a table as `TableRows`: COPY data (CSV format) for the extractor's staging table, one record per
source row with its line (files) or row number (database) first, plus the rows that cannot even be staged (bytes
that are not UTF-8, NUL bytes, a CSV line with the wrong number of fields, JSON nested deeper than Postgres can
parse), which become rejects naming the file and line. Postgres judges everything else (extract/checks.py), so a
source converts nothing: CSV fields and JSONL lines reach the stage as they are in the file.

A CSV file may also offer its lines as they are (`TableRows.plain`, a `PlainCsv`), and a Postgres app database its
rows as COPY writes them (a `PlainQuery`), for the extractor to COPY straight into the raw table; each checks on the
way what COPY cannot, and the extractor falls back to the staging path whenever that or the COPY fails.

A source may filter by watermark window, but must return rows whose watermark is NULL or unparsable too, so they
reach the rejects table.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any, ClassVar, Literal, Protocol

import numpy as np
import psycopg
from psycopg import errors, pq

from extract.tables import APP_TABLES
from extract.warehouse import Reject, first_line

CHUNK_BYTES = 1 << 20
BATCH_ROWS = 10_000
Row = bytes | memoryview  # one row of COPY data as psycopg hands it over
MAX_JSON_DEPTH = 1000  # deeper JSON is rejected before Postgres sees it (its parser would exhaust its stack)


class SourceError(ValueError):
    """The source itself is unusable (no such folder, table or file): that table fails with this message."""


class NotPlain(Exception):
    """A block of a CSV file that COPY cannot take as it is (PlainCsv.chunks): the load takes the staging path."""


@dataclass
class PlainCsv:
    """A CSV file whose lines COPY can read as they are, straight into the raw table.

    The header names contract columns only, each once, and every required one. `chunks` checks each block of lines
    on the way (vectorized, no work per line in Python) and raises NotPlain at the first block that is not plain:
    a quote (a field that may hold a comma or a line break), a NUL byte, a line ending other than the header's, a
    line without exactly the header's number of fields (an empty line too), JSON brackets nested deeper than
    Postgres parses, or a timestamp that does not begin with a digit ('now', 'epoch', 'Jan 8': Postgres reads
    those, the checks refuse them, and a stored timestamp no longer tells). It also judges two rules itself
    (`judges`, extract/checks.py's Rule.kind), cheaper on the bytes than per row in COPY: a required text that
    begins with a space (it may be blank), and a tenant id that is not a known tenant's. Everything else a row must
    meet is judged by COPY itself (extract/checks.py's app_copy_where).
    """

    table: str
    path: Path
    offset: int  # where the first record starts
    columns: tuple[str, ...]  # the contract column of each field, in the file's order
    eol: bytes  # the header's line ending, b"\n" or b"\r\n"
    rows: int = 0  # lines handed out so far
    judges: ClassVar[frozenset[str]] = frozenset({"blank", "tenant"})

    def chunks(self, tenants: Collection[str]) -> Iterator[bytes]:
        """Blocks of whole lines, as the file has them; `tenants`: the known tenant ids."""
        spec = APP_TABLES[self.table]
        columns = [spec.column(name) for name in self.columns]
        fields = _Fields(
            len(columns),
            self.eol,
            digit_first=[i for i, column in enumerate(columns) if column.type == "timestamptz"],
            no_space_first=[i for i, column in enumerate(columns) if column.required and column.type == "text"],
            tenant=[i for i, column in enumerate(columns) if column.tenant],
            known=_sorted_ids(tenants),
        )
        nested = any(spec.column(name).type == "jsonb" for name in self.columns)
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            while data := handle.read(CHUNK_BYTES):
                if not data.endswith(b"\n"):
                    data += handle.readline()
                    if not data.endswith(b"\n"):
                        data += self.eol
                lines = fields.plain_lines(data)
                if lines is None or (nested and data.count(b"[") + data.count(b"{") > MAX_JSON_DEPTH):
                    raise NotPlain(f"{self.path.name}: a block of lines after line {self.rows + 1} is not plain")
                self.rows += lines
                yield data


def _sorted_ids(ids: Collection[str]) -> np.ndarray:
    """Ids as a sorted array of fixed-width byte strings, for np.searchsorted (at least one byte wide)."""
    encoded = sorted(value.encode() for value in ids)
    return np.array(encoded, dtype=f"S{max(map(len, encoded), default=1)}")


@dataclass(frozen=True)
class _Fields:
    """What PlainCsv checks on a block's fields, by position in the line."""

    width: int  # fields per line
    eol: bytes
    digit_first: Sequence[int]  # a value must begin with a digit (timestamps)
    no_space_first: Sequence[int]  # a value must not begin with a space (required texts)
    tenant: Sequence[int]  # a value must be one of `known`
    known: np.ndarray  # _sorted_ids

    def plain_lines(self, data: bytes) -> int | None:
        """How many lines a block of whole lines has when COPY can read them as they are, else None. An empty field
        is a null, left to the raw table's NOT NULL."""
        if b'"' in data or b"\x00" in data:
            return None
        block = np.frombuffer(data, np.uint8)
        ends = np.flatnonzero(block == ord("\n"))
        if self.eol == b"\r\n":  # every line feed after a carriage return (one inside a line: COPY refuses it)
            if (block[ends - 1] != ord("\r")).any():
                return None
        elif b"\r" in data:
            return None
        commas = np.flatnonzero(block == ord(","))
        if len(commas) != len(ends) * (self.width - 1):
            return None
        # The commas in order, width - 1 per line: each line has exactly that many when each row of them lies on
        # its line.
        fields = commas.reshape(len(ends), self.width - 1)
        starts = np.concatenate(([0], ends[:-1] + 1))
        if not ((fields[:, 0] >= starts).all() and (fields[:, -1] < ends).all()):
            return None

        def begin(position: int) -> np.ndarray:
            return starts if position == 0 else fields[:, position - 1] + 1

        def end(position: int) -> np.ndarray:
            return fields[:, position] if position < self.width - 1 else ends - (len(self.eol) - 1)

        for position in self.digit_first:
            first = block[begin(position)]
            empty = (first == ord(",")) | (first == ord("\r")) | (first == ord("\n"))  # null: no value to judge
            if not (((first >= ord("0")) & (first <= ord("9"))) | empty).all():
                return None
        for position in self.no_space_first:
            if (block[begin(position)] == ord(" ")).any():
                return None
        for position in self.tenant:
            if not _all_known(block, begin(position), end(position), self.known):
                return None
        return len(ends)


def _all_known(block: np.ndarray, begin: np.ndarray, end: np.ndarray, known: np.ndarray) -> bool:
    """Whether every field block[begin[i]:end[i]] is empty (a null) or one of `known` (_sorted_ids): each field is
    gathered into a fixed-width byte string (a longer one is none of them) and looked up by binary search."""
    lengths = end - begin
    width = known.dtype.itemsize
    if len(known) == 0:
        return not lengths.any()
    if (lengths > width).any():
        return False
    offsets = np.arange(width)
    index = np.minimum(begin[:, None] + offsets, len(block) - 1)
    values = np.where(offsets < lengths[:, None], block[index], 0).astype(np.uint8)
    keys = values.view(known.dtype).ravel()
    found = known[np.minimum(np.searchsorted(known, keys), len(known) - 1)] == keys
    return bool((found | (lengths == 0)).all())


@dataclass
class TableRows:
    """One table of a source, ready for the extractor's staging table.

    `shape` "columns": each record is `line,<field>,...` with the fields in `stage_columns` order, and `staged` maps
    the contract columns the source has to their stage column. "document": each record is `line,<json text>`.
    `rejects` fills up while `chunks` is consumed, by at most a chunk's worth between two chunks: the consumer may
    take them away between chunks to keep memory bounded.
    """

    origin: str  # a file name, or the database table
    unit: Literal["line", "row"]
    shape: Literal["columns", "document"]
    stage_columns: tuple[str, ...]
    staged: dict[str, str]
    chunks: Iterator[str | bytes]
    rejects: list[Reject] = field(default_factory=list)
    rows: int = 0  # records handed to the stage so far
    plain: PlainCsv | PlainQuery | None = None  # the same rows as COPY may take them as they are (see load_table)


class AppSource(Protocol):
    description: str

    def read(self, table: str, start: datetime | None, end: datetime | None) -> TableRows: ...

    def has_table(self, table: str) -> bool: ...


def json_too_deep(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether brackets outside JSON strings nest deeper than `limit` (cheap unless the text has many)."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _unreadable(text: str) -> str | None:
    """Why a decoded line cannot be staged, if it cannot."""
    if "\x00" in text:
        return "contains a NUL byte"
    if json_too_deep(text):
        return f"nested deeper than {MAX_JSON_DEPTH} levels"
    return None


def _decoded_chunks(
    handle: IO[bytes], origin: str, first_line: int, rejects: list[Reject]
) -> Iterator[tuple[int, str]]:
    """(line number of the first line, text of whole lines ending in a line feed) per chunk of a binary file,
    decoded as UTF-8 (a BOM at the start is dropped); a line that is not UTF-8 becomes a reject naming the file and
    line, and an empty line in its place (so the numbers of the others stay right)."""
    number = first_line
    first = first_line == 1
    while True:
        data = handle.read(CHUNK_BYTES)
        if not data:
            return
        if not data.endswith(b"\n"):
            data += handle.readline()
            if not data.endswith(b"\n"):
                data += b"\n"
        if first and data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        first = False
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            lines = []
            for offset, raw in enumerate(data.split(b"\n")[:-1]):
                try:
                    lines.append(raw.decode("utf-8"))
                except UnicodeDecodeError as exc:
                    where = f"{origin}:{number + offset}"
                    problem = f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"
                    rejects.append(Reject(f"{where}: {problem}", raw.decode("utf-8", "backslashreplace")))
                    lines.append("")
            text = "".join(line + "\n" for line in lines)
        yield number, text
        number += text.count("\n")


# ------------------------------------------------------------------------------------------------ files


class FileSource:
    def __init__(self, directory: Path):
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise SourceError(f"app source folder {self.directory} does not exist")
        self.description = f"folder {self.directory}"

    def _path(self, table: str) -> Path | None:
        for suffix in (".jsonl", ".csv"):
            path = self.directory / f"{table}{suffix}"
            if path.exists():
                return path
        return None

    def has_table(self, table: str) -> bool:
        return self._path(table) is not None

    def read(self, table: str, start: datetime | None, end: datetime | None) -> TableRows:
        path = self._path(table)
        if path is None:
            raise SourceError(f"{self.description}: no {table}.jsonl or {table}.csv")
        try:
            handle = path.open("rb")
        except OSError as exc:
            raise SourceError(f"cannot read {path}: {exc.strerror}") from None
        if path.suffix == ".csv":
            return _read_csv(table, path, handle)
        rows = TableRows(path.name, "line", "document", ("_doc",), {}, iter(()))
        rows.chunks = _jsonl_chunks(handle, rows)
        return rows


def _jsonl_chunks(handle: IO[bytes], rows: TableRows) -> Iterator[str]:
    with handle:
        for number, chunk in _decoded_chunks(handle, rows.origin, 1, rows.rejects):
            out: list[str] = []
            for offset, line in enumerate(chunk.split("\n")[:-1]):
                text = line.strip()
                if not text:
                    continue
                problem = _unreadable(text)
                if problem:
                    rows.rejects.append(Reject(f"{rows.origin}:{number + offset}: {problem}", text[:10_000]))
                    continue
                out.append(f"{number + offset},{_quote(text)}\n")
            rows.rows += len(out)
            yield "".join(out)  # even empty: the consumer stages the rejects so far between chunks


def _read_csv(table: str, path: Path, handle: IO[bytes]) -> TableRows:
    """A CSV file with a header naming its columns (any order; unknown columns are ignored)."""
    try:
        head = handle.readline()
        if head.startswith(b"\xef\xbb\xbf"):
            head = head[3:]
        try:
            header = next(csv.reader([head.decode("utf-8").rstrip("\r\n")]), [])
        except UnicodeDecodeError:
            raise SourceError(f"{path}: line 1 (the header) is not valid UTF-8") from None
    except BaseException:
        handle.close()
        raise
    stage_columns = tuple(f"c{i}" for i in range(1, len(header) + 1))
    staged: dict[str, str] = {}
    for name, column in zip(header, stage_columns, strict=True):
        if name.strip() in APP_TABLES[table].column_names:
            staged.setdefault(name.strip(), column)
    rows = TableRows(path.name, "line", "columns", stage_columns, staged, iter(()))
    rows.chunks = _csv_chunks(handle, rows, len(header))
    columns = tuple(name.strip() for name in header)
    spec = APP_TABLES[table]
    if (
        len(columns) > 1
        and set(columns) <= set(spec.column_names)
        and len(set(columns)) == len(columns)
        and all(column.name in columns for column in spec.columns if column.required)
        and b'"' not in head
    ):
        eol = b"\r\n" if head.endswith(b"\r\n") else b"\n"
        rows.plain = PlainCsv(table, path, handle.tell(), columns, eol)
    return rows


def _csv_chunks(handle: IO[bytes], rows: TableRows, width: int) -> Iterator[str]:
    """Unquoted lines go to the stage as they are, their line number first. From the first quote or lone carriage
    return on (a quoted field may hold commas and line breaks), the csv module reads the rest of the file."""
    commas = width - 1
    with handle:
        for number, text in _decoded_chunks(handle, rows.origin, 2, rows.rejects):
            if "\r" in text:
                text = text.replace("\r\n", "\n")
            if '"' in text or "\r" in text:
                rest = io.TextIOWrapper(handle, encoding="utf-8", errors="surrogateescape", newline="")
                yield from _csv_module_chunks(
                    itertools.chain(io.StringIO(text, newline=""), rest), rows, width, number - 1
                )
                return
            lines = text.split("\n")
            lines.pop()  # after the last line feed
            counts = list(map(str.count, lines, itertools.repeat(",")))
            plain = "\x00" not in text and text.count("[") + text.count("{") <= MAX_JSON_DEPTH
            if plain and counts.count(commas) == len(lines) and not (width == 1 and "" in lines):
                out = "".join(map("{},{}\n".format, range(number, number + len(lines)), lines))
                rows.rows += len(lines)
            else:
                kept: list[str] = []
                for offset, (line, count) in enumerate(zip(lines, counts, strict=True)):
                    if not line.strip():
                        continue
                    where = f"{rows.origin}:{number + offset}"
                    if count != commas:
                        rows.rejects.append(Reject(f"{where}: {count + 1} fields, the header has {width}", line))
                    elif problem := _unreadable(line):
                        rows.rejects.append(Reject(f"{where}: {problem}", line.replace("\x00", "\\x00")[:10_000]))
                    else:
                        kept.append(f"{number + offset},{line}\n")
                out = "".join(kept)
                rows.rows += len(kept)
            yield out  # even empty: the consumer stages the rejects so far between chunks


def _csv_module_chunks(lines: Iterator[str], rows: TableRows, width: int, lines_before: int) -> Iterator[str]:
    reader = csv.reader(lines)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    last = 0
    count = 0
    since_yield = 0  # rows read since the last chunk, rejected ones included
    for fields in reader:
        number = lines_before + last + 1
        last = reader.line_num
        if not fields or fields == [""]:
            continue
        since_yield += 1
        if since_yield > BATCH_ROWS:  # a chunk every BATCH_ROWS rows, even when all of them are rejected
            rows.rows += count
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            count = 0
            since_yield = 1
        text = ",".join(fields)
        where = f"{rows.origin}:{number}"
        problem = None
        if len(fields) != width:
            problem = f"{len(fields)} fields, the header has {width}"
        else:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                problem = "not valid UTF-8"
            else:
                problem = _unreadable(text)
        if problem:
            rows.rejects.append(
                Reject(
                    f"{where}: {problem}",
                    text.encode("utf-8", "surrogateescape")
                    .decode("utf-8", "backslashreplace")
                    .replace("\x00", "\\x00"),
                )
            )
            continue
        writer.writerow([number, *fields])
        count += 1
    rows.rows += count
    if buffer.tell():
        yield buffer.getvalue()


# ------------------------------------------------------------------------------------------------ database


def _as_text(value: Any) -> str | None:
    """A database value as the text Postgres reads for it (None: NULL)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


@dataclass
class PlainQuery:
    """A table of a Postgres app database as COPY writes it (CSV), for the extractor to COPY straight into the raw
    table, no Python per row (the counterpart of PlainCsv). Offered only when every timestamp the contract has is a
    date or time column in the source, whose text always begins with a digit (or is +-infinity, which the rules
    refuse), and when the source has every required column. A block of rows that cannot be staged as it is (see
    _stageable) raises NotPlain, and the extractor stages the table instead."""

    source: SqlSource
    table: str
    columns: tuple[str, ...]
    start: datetime | None
    end: datetime | None
    rows: int = 0  # rows handed out so far
    judges: ClassVar[frozenset[str]] = frozenset()  # every rule is left to COPY's WHERE

    def chunks(self, tenants: Collection[str]) -> Iterator[bytes]:  # noqa: ARG002 - COPY judges the tenants
        for block, long in self.source.copy_blocks(self.table, self.columns, self.start, self.end, numbered=False):
            data = b"".join(block)
            if not _stageable(data, block, long, self.columns):
                raise NotPlain(f"{self.table}: a row after row {self.rows + 1} cannot be copied as it is")
            self.rows += len(block)
            yield data


def _stageable(data: bytes, block: list[Row], long: bool, names: Sequence[str]) -> bool:
    """Whether a block of rows a database wrote (`data`, the rows of `block` joined; their last fields are the
    columns `names`) can be staged as it is: no NUL byte, valid UTF-8, and, when some row is `long`, no JSON nested
    deeper than Postgres parses. Checked on the block as a whole, row by row only where a row is long enough."""
    if b"\x00" in data:
        return False
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return False
    return not long or not any(_row_problem(row, names) for row in block if len(row) > MAX_JSON_DEPTH)


def _row_fields(row: Row) -> list[str]:
    """The fields of one CSV row a database wrote (bytes that are not UTF-8 kept as surrogates)."""
    return next(csv.reader(io.StringIO(bytes(row).decode("utf-8", "surrogateescape"), newline="")))


def _row_problem(row: Row, names: Sequence[str]) -> str | None:
    """Why one row a database wrote cannot be staged, naming the column, if it cannot."""
    for name, value in zip(names, _row_fields(row)[-len(names) :], strict=True):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return f"{name}: not valid UTF-8 (byte 0x{ord(value[exc.start]) - 0xDC00:02x})"
        if problem := _unreadable(value):
            return f"{name}: {problem}"
    return None


class SqlSource:
    """The app's database through SQLAlchemy, filtered by window.

    A Postgres database streams each table with `COPY (select ...) TO STDOUT` (CSV): the rows reach the stage (and
    the raw table, PlainQuery) as Postgres writes them, numbered by the query, and Python only looks at a block of
    rows as a whole (valid UTF-8, no JSON nested too deep) unless that block fails, when its rows are judged one by
    one. Any other database is read row by row through a server-side cursor.
    """

    def __init__(self, url: str):
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        self.url = make_url(url)
        self.description = f"database {self.url.render_as_string(hide_password=True)}"
        self.copies = self.url.get_backend_name() == "postgresql"
        options = {}
        if self.copies:  # COPY through psycopg, whatever driver the URL names, in UTF-8 whatever the database's
            self.url = self.url.set(drivername="postgresql+psycopg")
            options["connect_args"] = {"client_encoding": "utf8"}
        self.engine = create_engine(self.url, **options)

    def has_table(self, table: str) -> bool:
        from sqlalchemy import inspect

        return inspect(self.engine).has_table(table)

    def read(self, table: str, start: datetime | None, end: datetime | None) -> TableRows:
        from sqlalchemy import inspect

        if not self.has_table(table):
            raise SourceError(f"{self.description}: no table {table!r}")
        from sqlalchemy.types import Date, DateTime

        spec = APP_TABLES[table]
        present = {col["name"]: col["type"] for col in inspect(self.engine).get_columns(table)}
        names = [name for name in spec.column_names if name in present]
        mark = spec.watermark
        if not isinstance(present.get(mark), DateTime):  # not a timestamp column: the extractor windows the rows
            start = end = None
        stage_columns = tuple(f"c{i}" for i in range(1, len(names) + 1))
        rows = TableRows(table, "row", "columns", stage_columns, dict(zip(names, stage_columns, strict=True)), iter(()))
        if not self.copies:
            rows.chunks = self._chunks(table, names, start, end, rows)
            return rows
        rows.chunks = self._copied_chunks(table, tuple(names), start, end, rows)
        dated = all(
            isinstance(present[name], Date | DateTime) for name in names if spec.column(name).type == "timestamptz"
        )
        if dated and all(column.name in names for column in spec.columns if column.required):
            rows.plain = PlainQuery(self, table, tuple(names), start, end)
        return rows

    def copy_blocks(
        self, table: str, names: Sequence[str], start: datetime | None, end: datetime | None, *, numbered: bool
    ) -> Iterator[tuple[list[Row], bool]]:
        """The table's rows in the window (and those with no watermark), as COPY writes them in CSV, in blocks of
        BATCH_ROWS rows (a list of rows, each ending in a line feed), each with whether it needs a closer look: a
        NUL byte, bytes that are not UTF-8, or a row long enough to hold JSON nested too deep. `numbered`: each row
        begins with its row number. Every value is sent as its text, an empty string as null (as the stage reads
        it), timestamps in ISO format.

        The rows come in the order of their watermark, the order of raw's index on it (an append-only table's key
        index leads with it): a load's rows then go in at the index's right edge. In the order the database stores
        them (the generated company's: tenant by tenant, each across the whole day) each row went in at a scattered
        place of an index larger than the server's buffers: twice the warehouse's CPU per row and more than twice
        the time (docs/PERFORMANCE.md, "Scale 1"). The sort is the app database's, or its index's order."""
        from psycopg import sql

        values: list[sql.Composable] = [sql.SQL("nullif({}::text, '')").format(sql.Identifier(n)) for n in names]
        mark = sql.Identifier(APP_TABLES[table].watermark)
        order = sql.SQL("order by {}").format(mark) if APP_TABLES[table].watermark in names else sql.SQL("")
        if numbered:  # in the order the rows are sent
            values.insert(0, sql.SQL("row_number() over ({})").format(order))
        query = sql.SQL("select {} from {}").format(sql.SQL(", ").join(values), sql.Identifier(table))
        bounds = [
            sql.SQL(f"{{}} {op} {{}}").format(mark, sql.Literal(value))
            for op, value in ((">=", start), ("<", end))
            if value is not None
        ]
        if bounds:
            query += sql.SQL(" where {} is null or ({})").format(mark, sql.SQL(" and ").join(bounds))
        query += sql.SQL(" ") + order
        statement = sql.SQL("copy ({}) to stdout with (format csv)").format(query)
        from psycopg import Error

        raw = self.engine.raw_connection()
        try:
            conn = raw.driver_connection
            with conn.transaction():  # type: ignore[union-attr]
                settings = ["timezone = 'UTC'", "datestyle = 'ISO'"]
                if conn.info.parameter_status("server_encoding") == "SQL_ASCII":  # type: ignore[union-attr]
                    # Postgres would refuse to send a byte that is not UTF-8 at all; the rows come as stored instead
                    settings.append("client_encoding = 'SQL_ASCII'")
                for setting in settings:
                    conn.execute(f"set local {setting}")  # type: ignore[union-attr]
                with conn.cursor().copy(statement) as copy:  # type: ignore[union-attr]
                    block: list[Row] = []
                    long = False
                    for size, row in _copied_rows(conn, copy):  # type: ignore[arg-type]
                        if size > MAX_JSON_DEPTH:
                            long = True
                        block.append(row)
                        if len(block) == BATCH_ROWS:
                            yield block, long
                            block, long = [], False
                    if block:
                        yield block, long
        except Error as exc:  # the app database failed (not the warehouse): this table fails, the others load
            problem = first_line(exc)
            raise SourceError(f"{self.description}: reading {table}: {problem}") from exc
        finally:
            raw.close()

    def _copied_chunks(
        self, table: str, names: tuple[str, ...], start: datetime | None, end: datetime | None, rows: TableRows
    ) -> Iterator[bytes]:
        """Blocks of `number,value,...` CSV records for the stage; a row that cannot be staged becomes a reject."""
        for block, long in self.copy_blocks(table, names, start, end, numbered=True):
            data = b"".join(block)
            if not _stageable(data, block, long, names):
                kept: list[Row] = []
                for row in block:
                    problem = _row_problem(row, names)
                    if problem is None:
                        kept.append(row)
                        continue
                    number, *values = _row_fields(row)
                    record = dict(zip(names, (v.encode("utf-8", "surrogateescape") for v in values), strict=True))
                    text = json.dumps({k: v.decode("utf-8", "backslashreplace") for k, v in record.items()})
                    rows.rejects.append(Reject(f"{table} row {number}: {problem}", text))
                data, block = b"".join(kept), kept
            rows.rows += len(block)
            yield data  # even empty: the consumer stages the rejects so far between chunks

    def _chunks(
        self, table: str, names: list[str], start: datetime | None, end: datetime | None, rows: TableRows
    ) -> Iterator[str]:
        """Any other database: row by row through a server-side cursor, each value as the text Postgres reads."""
        from sqlalchemy import and_, column, or_, select
        from sqlalchemy import table as sql_table

        spec = APP_TABLES[table]
        source = sql_table(table, *(column(name) for name in names))
        query = select(*(source.c[name] for name in names))
        if spec.watermark in names:
            mark = source.c[spec.watermark]
            conditions = []
            if start is not None:
                conditions.append(mark >= start)
            if end is not None:
                conditions.append(mark < end)
            if conditions:
                query = query.where(or_(mark.is_(None), and_(*conditions)))
            query = query.order_by(mark)  # raw's index order, as copy_blocks reads
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        number = 0
        with self.engine.connect().execution_options(stream_results=True, yield_per=20_000) as conn:
            for batch in conn.execute(query).partitions():
                for values in batch:
                    number += 1
                    try:
                        texts = [_as_text(value) for value in values]
                    except (ValueError, RecursionError):
                        rows.rejects.append(
                            Reject(f"{table} row {number}: a value is not serializable", repr(values)[:10_000])
                        )
                        continue
                    line = "\x1f".join(text or "" for text in texts)
                    problem = None
                    try:
                        line.encode("utf-8")
                    except UnicodeEncodeError:
                        problem = "not valid UTF-8 (a lone surrogate)"
                    else:
                        problem = _unreadable(line)
                    if problem:
                        record = json.dumps(dict(zip(names, texts, strict=True)), default=str)
                        rows.rejects.append(
                            Reject(f"{table} row {number}: {problem}", record.replace("\x00", "\\u0000"))
                        )
                        continue
                    writer.writerow([number, *("" if text is None else text for text in texts)])
                    rows.rows += 1
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()


def _copied_rows(conn: psycopg.Connection, copy: psycopg.Copy) -> Iterator[tuple[int, Row]]:
    """The rows of a `COPY ... TO STDOUT` under way on `conn` (one per message), each with its length in bytes.

    The rows libpq has already received are taken from it directly; only when it holds none does psycopg's own read
    wait for the next (or for the end). psycopg's read goes through a generator and its wait loop for every row,
    which made it about half of the Python CPU of reading a table (1M event rows: 2.2 s of CPU, 1.0 s this way).

    Each row is copied out of libpq's buffer into bytes at once. psycopg hands it over as a memoryview (with a
    managed buffer behind it), objects the cyclic garbage collector tracks, and a block of BATCH_ROWS of them lived
    long enough to reach its oldest generation: a full collection every few tens of thousands of rows, each one
    walking every object of the process. In a process holding a large heap (the bench's generated company, a
    Dagster process) that was most of the extract's Python CPU (docs/PERFORMANCE.md, "The extract's garbage
    collections"); bytes are not tracked."""
    pgconn = conn.pgconn
    while True:
        size, row = pgconn.get_copy_data(1)  # 1: never wait; 0 when no whole row has arrived yet
        if size > 0:
            yield size, bytes(row)
        elif size == 0:
            if not (waited := copy.read()):  # empty: psycopg read the end and the statement's result
                return
            yield len(waited), bytes(waited)
        else:  # the end, read here: the statement's result (an error the server sent instead of the end) follows
            while (result := pgconn.get_result()) is not None:
                if result.status != pq.ExecStatus.COMMAND_OK:
                    raise errors.error_from_result(result, encoding=conn.info.encoding)
            return


def open_source(spec: str | Path) -> AppSource:
    """A SQLAlchemy URL (anything with '://') or a folder of <table>.jsonl|csv files."""
    text = str(spec)
    if "://" in text:
        return SqlSource(text)
    return FileSource(Path(text))
