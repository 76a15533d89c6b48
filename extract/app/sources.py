"""Where app rows come from: the app's database (SQLAlchemy URL) or a folder of `<table>.jsonl|csv` files.

Sources yield each row as a list of values in the order of the table's contract columns (`TableSpec.column_names`;
None where a nullable column is absent): strings from CSV, JSON values from JSONL, Python values from a database.
The extractor validates and converts them. A source may filter by watermark window, but
must return rows whose watermark is NULL or unparsable too, so they reach the rejects table.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from extract.app.schema import REQUIRED_SOURCE_COLUMNS, TABLES


class SourceError(ValueError):
    """The source itself is unusable (missing file, missing required column): the load stops with this message."""


class AppSource(Protocol):
    description: str

    def iter_rows(self, table: str, start: datetime | None, end: datetime | None) -> Iterator[list[Any]]: ...

    def has_table(self, table: str) -> bool: ...


def _check_columns(table: str, present: set[str], origin: str) -> None:
    missing = [name for name in REQUIRED_SOURCE_COLUMNS[table] if name not in present]
    if missing:
        raise SourceError(f"{origin}: table {table!r} has no column {', '.join(map(repr, missing))}")


class UnparsableLine(list):  # type: ignore[type-arg]
    """A line that could not be read as a row; the extractor turns it into a reject."""

    def __init__(self, text: str, reason: str):
        super().__init__()
        self.text = text
        self.reason = reason


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

    def iter_rows(self, table: str, start: datetime | None, end: datetime | None) -> Iterator[list[Any]]:
        path = self._path(table)
        if path is None:
            raise SourceError(f"{self.description}: no {table}.jsonl or {table}.csv")
        if path.suffix == ".csv":
            yield from self._iter_csv(table, path)
        else:
            yield from self._iter_jsonl(table, path)

    def _iter_csv(self, table: str, path: Path) -> Iterator[list[Any]]:
        names = TABLES[table].column_names
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, None) or []
            _check_columns(table, set(header), str(path))
            positions = {name: index for index, name in enumerate(header)}
            width = len(header)
            picks = None if list(names) == header else [positions.get(name) for name in names]
            for number, fields in enumerate(reader, start=2):
                if len(fields) != width:
                    if not fields:
                        continue
                    yield UnparsableLine(
                        ",".join(fields), f"line {number} has {len(fields)} fields, header has {width}"
                    )
                    continue
                # CSV has no NULL: an empty field is NULL (the extractor reads "" as missing).
                yield fields if picks is None else [None if i is None else fields[i] for i in picks]

    def _iter_jsonl(self, table: str, path: Path) -> Iterator[list[Any]]:
        names = TABLES[table].column_names
        checked = False
        with path.open(encoding="utf-8") as handle:
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

    def iter_rows(self, table: str, start: datetime | None, end: datetime | None) -> Iterator[list[Any]]:
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
