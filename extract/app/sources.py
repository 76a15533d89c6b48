"""Where app rows come from: the app's database (SQLAlchemy URL) or a folder of `<table>.jsonl|csv` files.

A source opens a table as `TableRows`: the order of its columns (a CSV file's header order, else the contract's)
and batches of rows, each row a list of values in that order: strings from CSV, JSON values from JSONL, Python
values from a database. The extractor validates and converts them. A CSV row also keeps its line, so that a row the
extractor accepts unchanged is handed to COPY as it came (the extractor's fast path). A source may filter by
watermark window, but must return rows whose watermark is NULL or unparsable too, so they reach the rejects table.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Protocol

from extract.app.schema import REQUIRED_SOURCE_COLUMNS, TABLES

BATCH_ROWS = 10_000
CHUNK_CHARS = 1 << 20


class SourceError(ValueError):
    """The source itself is unusable (missing file, missing required column): the load stops with this message."""


class UnparsableLine(list):  # type: ignore[type-arg]
    """A line that could not be read as a row; the extractor turns it into a reject."""

    def __init__(self, text: str, reason: str):
        super().__init__()
        self.text = text
        self.reason = reason


@dataclass
class RowBatch:
    """Rows of values, or the lines of an unquoted CSV file whose header holds exactly TableRows.columns."""

    rows: list[list[Any]] | None = None  # values in TableRows.columns order, or UnparsableLine
    lines: list[str] | None = None  # lines without terminators, split on commas by the extractor
    first_line: int = 0  # the line number of lines[0] in its file


@dataclass
class TableRows:
    columns: tuple[str, ...]  # contract columns, in the order the rows hold them
    batches: Iterator[RowBatch]


class AppSource(Protocol):
    description: str

    def read(self, table: str, start: datetime | None, end: datetime | None) -> TableRows: ...

    def has_table(self, table: str) -> bool: ...


def _check_columns(table: str, present: set[str] | list[str], origin: str) -> None:
    missing = [name for name in REQUIRED_SOURCE_COLUMNS[table] if name not in present]
    if missing:
        raise SourceError(f"{origin}: table {table!r} has no column {', '.join(map(repr, missing))}")


def _batched(rows: Iterator[list[Any]]) -> Iterator[RowBatch]:
    while batch := list(itertools.islice(rows, BATCH_ROWS)):
        yield RowBatch(rows=batch)


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
        if path.suffix == ".csv":
            return _read_csv(table, path)
        return TableRows(TABLES[table].column_names, _batched(_iter_jsonl(table, path)))


def _read_csv(table: str, path: Path) -> TableRows:
    """A CSV file with a header. Unquoted lines are split on commas and keep their text; from the first quote on
    (a quoted field may hold commas and line breaks), the rest of the file goes through the csv module."""
    handle = path.open(newline="", encoding="utf-8-sig")
    try:
        first = handle.readline()
        header = next(csv.reader([first]), [])
        _check_columns(table, header, str(path))
        known = set(TABLES[table].column_names)
        if set(header) <= known and len(set(header)) == len(header):
            columns, picks = tuple(header), None
        else:  # unknown or repeated columns: keep the contract's columns, and no line can pass as it is
            columns = tuple(name for name in TABLES[table].column_names if name in header)
            picks = [header.index(name) for name in columns]
        crlf = first.endswith("\r\n")
    except BaseException:
        handle.close()
        raise
    return TableRows(columns, _csv_batches(handle, len(header), picks, crlf))


def _csv_batches(handle: IO[str], width: int, picks: list[int] | None, crlf: bool) -> Iterator[RowBatch]:
    number = 1  # the header's line number
    with handle:
        rest = ""
        while True:
            data = handle.read(CHUNK_CHARS)
            if crlf and data.endswith("\r"):
                data += handle.read(1)
            text = rest + data
            if crlf:
                text = text.replace("\r\n", "\n")
            if '"' in text or "\r" in text:
                # From here on, the csv module reads: finish the current line, then hand it the rest of the file.
                text += handle.readline() if data else ""
                rest_of_file = itertools.chain(io.StringIO(text, newline=""), handle)
                yield from _csv_module_batches(rest_of_file, width, picks, number)
                return
            lines = text.split("\n")
            rest = lines.pop() if data else ""
            if picks is None:
                yield RowBatch(lines=lines, first_line=number + 1)
            else:
                rows: list[list[Any]] = []
                for offset, line in enumerate(lines, start=number + 1):
                    fields = line.split(",")
                    if len(fields) == width:
                        rows.append([fields[i] for i in picks])
                    elif line:
                        rows.append(UnparsableLine(line, f"line {offset} has {len(fields)} fields, header has {width}"))
                yield RowBatch(rows=rows)
            number += len(lines)
            if not data:
                return


def _csv_module_batches(
    lines: Iterator[str], width: int, picks: list[int] | None, lines_before: int
) -> Iterator[RowBatch]:
    reader = csv.reader(lines)
    rows: list[list[Any]] = []
    for fields in reader:
        if len(fields) != width:
            if not fields:
                continue
            number = lines_before + reader.line_num
            rows.append(UnparsableLine(",".join(fields), f"line {number} has {len(fields)} fields, header has {width}"))
        else:
            rows.append(fields if picks is None else [fields[i] for i in picks])
        if len(rows) >= BATCH_ROWS:
            yield RowBatch(rows=rows)
            rows = []
    if rows:
        yield RowBatch(rows=rows)


def _iter_jsonl(table: str, path: Path) -> Iterator[list[Any]]:
    names = TABLES[table].column_names
    checked = False
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                yield UnparsableLine(line.rstrip("\n"), f"unparsable JSON at line {number}: {exc.msg}")
                continue
            if not isinstance(row, dict):
                yield UnparsableLine(line.rstrip("\n"), f"not a JSON object at line {number}")
                continue
            if not checked:
                _check_columns(table, set(row), str(path))
                checked = True
            get = row.get
            yield [get(name) for name in names]


class SqlSource:
    """The app's database through SQLAlchemy, streamed with a server-side cursor and filtered by window."""

    def __init__(self, url: str):
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        self.url = make_url(url)
        self.description = f"database {self.url.render_as_string(hide_password=True)}"
        self.engine = create_engine(self.url)

    def has_table(self, table: str) -> bool:
        from sqlalchemy import inspect

        return inspect(self.engine).has_table(table)

    def read(self, table: str, start: datetime | None, end: datetime | None) -> TableRows:
        return TableRows(TABLES[table].column_names, _batched(self._iter_rows(table, start, end)))

    def _iter_rows(self, table: str, start: datetime | None, end: datetime | None) -> Iterator[list[Any]]:
        from sqlalchemy import and_, column, inspect, null, or_, select
        from sqlalchemy import table as sql_table

        spec = TABLES[table]
        if not self.has_table(table):
            raise SourceError(f"{self.description}: no table {table!r}")
        present = {col["name"] for col in inspect(self.engine).get_columns(table)}
        _check_columns(table, present, self.description)
        source = sql_table(table, *(column(name) for name in spec.column_names if name in present))
        query = select(*(source.c[name] if name in present else null().label(name) for name in spec.column_names))
        mark = source.c[spec.watermark]
        conditions = []
        if start is not None:
            conditions.append(mark >= start)
        if end is not None:
            conditions.append(mark < end)
        if conditions:
            query = query.where(or_(mark.is_(None), and_(*conditions)))
        with self.engine.connect().execution_options(stream_results=True, yield_per=20_000) as conn:
            for row in conn.execute(query):
                yield list(row)


def open_source(spec: str | Path) -> AppSource:
    """A SQLAlchemy URL (anything with '://') or a folder of <table>.jsonl|csv files."""
    text = str(spec)
    if "://" in text:
        return SqlSource(text)
    return FileSource(Path(text))
