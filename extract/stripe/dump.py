"""Read a Stripe JSON dump: a folder with one file per object type, `<type>.jsonl` (one object per line) or
`<type>.json` (a Stripe list object `{"object": "list", "data": [...]}` or a JSON array)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from extract.stripe.loader import OBJECT_TABLES, LoadResult, load_objects, parse_json_lines
from extract.warehouse import Reject, ensure_raw_schema, new_batch_id, record_batch

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


def read_dump_file(path: Path) -> Iterator[Mapping[str, Any] | Reject]:
    if path.suffix == ".jsonl":
        with path.open(encoding="utf-8") as handle:
            yield from parse_json_lines(handle, path.name)
        return
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        yield Reject(f"unparsable JSON in {path.name}: {exc.msg} at line {exc.lineno}", "")
        return
    items = document.get("data") if isinstance(document, dict) else document
    if not isinstance(items, list):
        yield Reject(f"{path.name} is neither a Stripe list object nor a JSON array", "")
        return
    for item in items:
        yield item if isinstance(item, dict) else Reject(f"not a JSON object in {path.name}", json.dumps(item))


def load_dump(conn: psycopg.Connection, directory: Path, batch_id: str | None = None) -> LoadResult:
    """Load every file of a dump in one transaction (all or nothing) and record the batch."""
    files = dump_files(directory)
    ensure_raw_schema(conn)
    batch_id = batch_id or new_batch_id()
    started = datetime.now(UTC)
    total = LoadResult()
    with conn.transaction():
        for kind, path in files:
            total.merge(load_objects(conn, read_dump_file(path), batch_id, started, expected_type=kind))
        record_batch(conn, batch_id, "stripe_dump", None, (None, None), total.total_loaded, total.rejected, started)
    return total
