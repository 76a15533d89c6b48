"""Read a Stripe JSON dump: a folder with one file per object type, `<type>.jsonl` (one object per line) or
`<type>.json` (a Stripe list object `{"object": "list", "data": [...]}` or a JSON array). Each file (object type)
loads in a transaction of its own.

A file whose last load took every object in it is not read again while it is unchanged (the same name and size, and
the same modification time or, failing that, the same SHA-256) and its table is not empty: `raw._stripe_dump_files`
records each such load in the load's transaction. A daily run over a dump folder that did not change reads nothing;
a file whose last load rejected objects is read every time (an object rejected as in the future is taken once its
time has come), and `full_refresh` reads every file.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, partial
from pathlib import Path

import psycopg

from extract.stripe.loader import (
    DEFAULT_FUTURE_TOLERANCE,
    OBJECT_TABLES,
    LoadResult,
    Sourced,
    load_objects,
    parse_json_lines,
)
from extract.tables import STRIPE_OBJECTS
from extract.warehouse import (
    Reject,
    Warehouse,
    analyze_loaded,
    ensure_raw_schema,
    first_line,
    new_batch_id,
    record_batch,
    start_warehouse,
)

TABLE_OBJECTS = {table: kind for kind, table in OBJECT_TABLES.items()}
log = logging.getLogger(__name__)


class DumpError(ValueError):
    pass


def dump_files(directory: Path) -> list[tuple[str, Path]]:
    """(object type, file) pairs in load order; unknown file names are an error, not silently skipped."""
    if not directory.is_dir():
        raise DumpError(f"Stripe dump folder {directory} does not exist")
    found: list[tuple[str, Path]] = []
    unknown: list[str] = []
    for path in sorted(directory.iterdir()):
        if path.suffix not in (".json", ".jsonl") or path.name.startswith("."):
            continue
        kind = TABLE_OBJECTS.get(path.stem)
        if kind is None:
            unknown.append(path.name)
        else:
            found.append((kind, path))
    if unknown:
        raise DumpError(
            f"unknown files in the Stripe dump {directory}: {', '.join(unknown)}; expected <type>.json(l) with type"
            f" one of {', '.join(sorted(TABLE_OBJECTS))}"
        )
    if not found:
        raise DumpError(f"no Stripe dump files in {directory}")
    order = list(OBJECT_TABLES)
    return sorted(found, key=lambda item: order.index(item[0]))


def read_dump_file(path: Path) -> Iterator[Sourced | Reject]:
    """The objects of one dump file, each with its file and line (a `.json` file: its item number)."""
    if path.suffix == ".jsonl":
        with path.open("rb") as handle:
            yield from parse_json_lines(handle, path.name)
        return
    data = path.read_bytes()
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        yield Reject(f"{path.name}:{line}: not valid UTF-8 (byte 0x{data[exc.start]:02x}): the file is not read", "")
        return
    except json.JSONDecodeError as exc:
        yield Reject(f"{path.name}:{exc.lineno}: unparsable JSON: {exc.msg}: the file is not read", "")
        return
    except RecursionError:
        yield Reject(f"{path.name}: JSON nested too deeply: the file is not read", "")
        return
    items = document.get("data") if isinstance(document, dict) else document
    if not isinstance(items, list):
        yield Reject(f"{path.name}: neither a Stripe list object nor a JSON array", "")
        return
    for number, item in enumerate(items, start=1):
        yield Sourced(f"{path.name} item {number}", item)


@dataclass(frozen=True)
class FileState:
    """What identifies a dump file's content: its name and size, with its modification time (cheap to compare) and
    the SHA-256 of its bytes (read only when the time differs: a copy of the same file)."""

    name: str
    size: int
    mtime_ns: int

    @staticmethod
    def of(path: Path) -> FileState:
        stat = path.stat()
        return FileState(path.name, stat.st_size, stat.st_mtime_ns)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class LoadedFile:
    """The last load of an object type's file that took every object in it (raw._stripe_dump_files)."""

    state: FileState
    sha256: str
    objects: int

    def matches(self, state: FileState, digest: Callable[[], str]) -> bool:
        """`state` and, when only the time differs, `digest()` (the file's SHA-256) match this load's file."""
        if (state.name, state.size) != (self.state.name, self.state.size):
            return False
        return state.mtime_ns == self.state.mtime_ns or digest() == self.sha256


def loaded_files(conn: psycopg.Connection) -> dict[str, LoadedFile]:
    rows = conn.execute(
        "select object_type, file_name, size_bytes, mtime_ns, sha256, objects from raw._stripe_dump_files"
    ).fetchall()
    return {row[0]: LoadedFile(FileState(row[1], row[2], row[3]), row[4], row[5]) for row in rows}


def _holds_rows(conn: psycopg.Connection, kind: str, last: LoadedFile) -> bool:
    """Whether the object type's raw table still holds rows, if the file's last load had objects: a table emptied
    since (a reset, a table rebuilt) is loaded again."""
    if last.objects == 0:
        return True
    table = STRIPE_OBJECTS[kind].raw_table
    return bool(conn.execute(f"select exists (select 1 from {table})").fetchone()[0])  # type: ignore[index]


def _record_file(
    conn: psycopg.Connection, kind: str, path: Path, state: FileState, sha256: str, result: LoadResult, batch_id: str
) -> None:
    """Record the file's load (in the load's transaction) when it took every object in it and the file was not
    rewritten while it was read; else forget the last one recorded."""
    if result.rejected or FileState.of(path) != state:
        conn.execute("delete from raw._stripe_dump_files where object_type = %s", (kind,))
        return
    objects = sum(result.loaded.values()) + sum(result.unchanged.values())
    conn.execute(
        """insert into raw._stripe_dump_files
               (object_type, file_name, size_bytes, mtime_ns, sha256, objects, batch_id, loaded_at)
           values (%s, %s, %s, %s, %s, %s, %s, clock_timestamp())
           on conflict (object_type) do update set
               file_name = excluded.file_name, size_bytes = excluded.size_bytes, mtime_ns = excluded.mtime_ns,
               sha256 = excluded.sha256, objects = excluded.objects, batch_id = excluded.batch_id,
               loaded_at = excluded.loaded_at""",
        (kind, state.name, state.size, state.mtime_ns, sha256, objects, batch_id),
    )


def load_dump(
    conn: psycopg.Connection,
    directory: Path,
    batch_id: str | None = None,
    future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
    full_refresh: bool = False,
) -> LoadResult:
    """Load every file of a dump, each object type in a transaction of its own with its batch record.

    A file unchanged since a load that took every object in it is not read (`result.skipped`; its objects count as
    unchanged) unless `full_refresh`. A file that cannot be loaded at all (unreadable) is named in `result.failed`;
    the other types still load.
    """
    files = dump_files(directory)
    ensure_raw_schema(conn)
    before = {} if full_refresh else loaded_files(conn)
    conn.commit()
    batch_id = batch_id or new_batch_id()
    total = LoadResult()
    for kind, path in files:
        started = datetime.now(UTC)
        try:
            state = FileState.of(path)
            digest = cache(partial(file_sha256, path))  # the file is hashed once at most
            last = before.get(kind)
            skip = last if last is not None and last.matches(state, digest) and _holds_rows(conn, kind, last) else None
            conn.commit()  # end the check's read: the file loads in a transaction of its own
            if skip is not None:
                total.unchanged[OBJECT_TABLES[kind]] += skip.objects
                total.skipped.append(kind)
                continue
            sha256 = digest()
            with conn.transaction():
                result = load_objects(
                    conn, read_dump_file(path), batch_id, started, expected_type=kind, future_tolerance=future_tolerance
                )
                record_batch(
                    conn, f"{batch_id}:{kind}", "stripe_dump", kind, (None, None), result.total_loaded,
                    result.rejected, started,
                )  # fmt: skip
                _record_file(conn, kind, path, state, sha256, result, batch_id)
        except (psycopg.OperationalError, psycopg.InterfaceError):
            raise
        except (OSError, psycopg.Error) as exc:
            message = first_line(exc)
            result = LoadResult(failed={kind: f"{path.name}: {message}"})
        analyze_loaded(conn, [f"raw.stripe_{table}" for table, rows in result.loaded.items() if rows], log.warning)
        total.merge(result)
    return total


def load_dump_into(
    warehouse: Warehouse, directory: Path, note: Callable[[str], None], full_refresh: bool = False
) -> LoadResult:
    """`execmetrics load stripe-dump`: the dump into the raw tables as the loader role, the warehouse started when
    needed (`note` gets what its start decided)."""
    start_warehouse(warehouse, note)
    with warehouse.as_role("loader").connect() as conn:
        return load_dump(conn, directory, full_refresh=full_refresh)
