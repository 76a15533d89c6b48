"""Read a Stripe JSON dump: a folder with one file per object type, `<type>.jsonl` (one object per line) or
`<type>.json` (a Stripe list object `{"object": "list", "data": [...]}` or a JSON array). Each file (object type)
loads in a transaction of its own."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
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
from extract.warehouse import Reject, Warehouse, ensure_raw_schema, new_batch_id, record_batch, start_warehouse

TABLE_OBJECTS = {table: kind for kind, table in OBJECT_TABLES.items()}


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


def load_dump(
    conn: psycopg.Connection,
    directory: Path,
    batch_id: str | None = None,
    future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
) -> LoadResult:
    """Load every file of a dump, each object type in a transaction of its own with its batch record.

    A file that cannot be loaded at all (unreadable) is named in `result.failed`; the other types still load.
    """
    files = dump_files(directory)
    ensure_raw_schema(conn)
    conn.commit()
    batch_id = batch_id or new_batch_id()
    total = LoadResult()
    for kind, path in files:
        started = datetime.now(UTC)
        try:
            with conn.transaction():
                result = load_objects(
                    conn, read_dump_file(path), batch_id, started, expected_type=kind, future_tolerance=future_tolerance
                )
                record_batch(
                    conn, f"{batch_id}:{kind}", "stripe_dump", kind, (None, None), result.total_loaded,
                    result.rejected, started,
                )  # fmt: skip
        except (psycopg.OperationalError, psycopg.InterfaceError):
            raise
        except (OSError, psycopg.Error) as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            result = LoadResult(failed={kind: f"{path.name}: {message}"})
        total.merge(result)
    return total


def load_dump_into(warehouse: Warehouse, directory: Path, note: Callable[[str], None]) -> LoadResult:
    """`execmetrics load stripe-dump`: the dump into the raw tables as the loader role, the warehouse started when
    needed (`note` gets what its start decided)."""
    start_warehouse(warehouse, note)
    with warehouse.as_role("loader").connect() as conn:
        return load_dump(conn, directory)
