"""Dagster's SQLite storage (the default DAGSTER_HOME) without two disk syncs per event.

Dagster's SQLite event log opens a new connection for every event it stores (one per run shard, another for the
cross-run index) and closes it again. Its files are in WAL mode, and with SQLite's defaults every commit syncs the
WAL to disk (`synchronous=FULL`) and every close of the last connection to a file checkpoints the WAL into the
database, syncs it and deletes the WAL. A daily run stores about 800 events (a planned event, an output and a result
per dbt model and test), so on a busy disk the run spent 20 to 40 s waiting for syncs: the planned events alone
took about 20 s before the first step.

`quick_sqlite_commits(home)` makes the connections to SQLite files under DAGSTER_HOME use `synchronous=NORMAL`
(SQLite's recommended setting in WAL mode: a commit no longer syncs; a power loss can lose the last commits but
cannot corrupt the database; a crash of the process loses nothing) and keeps one idle connection open to each
such file once it is in WAL mode, so closing Dagster's connections does not checkpoint and delete the WAL every time
(SQLite still checkpoints every 1000 pages). Postgres storage (DAGSTER_PG_URL) is not affected.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

KEPT_FILES = 16  # idle connections kept: the index and run-list files, plus the most recent runs' shards

_homes: set[str] = set()
_kept: OrderedDict[str, sqlite3.Connection] = OrderedDict()
_lock = threading.Lock()
_installed = False


def quick_sqlite_commits(home: Path) -> None:
    """Apply the settings above to SQLite files under `home` (idempotent; once per process and home)."""
    global _installed
    with _lock:
        _homes.add(str(Path(home).resolve()) + "/")
        if _installed:
            return
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.listen(Engine, "connect", _on_connect)
        _installed = True


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    row = dbapi_connection.execute("pragma database_list").fetchone()
    path = str(row[2]) if row and row[2] else ""
    if not path or not any(path.startswith(home) for home in _homes):
        return
    dbapi_connection.execute("pragma synchronous=NORMAL")
    if dbapi_connection.execute("pragma journal_mode").fetchone()[0] != "wal":
        return  # a file being created: Dagster turns WAL on after its tables; kept from its next connection on
    with _lock:
        if path in _kept:
            _kept.move_to_end(path)
            return
        keeper = sqlite3.connect(path, check_same_thread=False)
        keeper.execute("select count(*) from sqlite_master").fetchall()  # joins the WAL: counts as a connection
        _kept[path] = keeper
        while len(_kept) > KEPT_FILES:
            _, oldest = _kept.popitem(last=False)
            oldest.close()
