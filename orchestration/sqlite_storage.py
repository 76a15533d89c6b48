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

`QuickSqliteEventLogStorage` (DAGSTER_HOME's dagster.yaml names it as the event log storage) is Dagster's SQLite event
log with one SQLAlchemy engine kept per file instead of one created and disposed for every event: a new engine has
an empty statement cache, so every event's inserts and updates were compiled again, and a new SQLite connection was
opened (and set up) for every event: together most of the run process's time in storing events. Each kept engine
holds one connection, used under the storage's lock by one caller at a time and idle (holding no lock on the file)
between events; the check tables' existence, asked on every check event, is remembered once found.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS, create_db_conn_string
from dagster._serdes import ConfigurableClassData
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool, StaticPool

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


class QuickSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log storage, keeping an engine per file (the index and the latest KEPT_FILES runs)."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._tables: set[str] = set()
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData | None, config_value: dict[str, Any]
    ) -> QuickSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:  # type: ignore[override]
        with self._db_lock:
            engine = self._engines.get(shard)
            if engine is None:
                url = create_db_conn_string(self._base_dir, shard)
                if shard not in self._initialized_dbs:
                    timeout = {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
                    setup = create_engine(url, poolclass=NullPool, connect_args=timeout)
                    self._initdb(setup)
                    setup.dispose()
                    self._initialized_dbs.add(shard)
                # one connection, used by one caller at a time (under the lock); idle between events, so it holds
                # no lock on the file that other processes would wait for
                engine = create_engine(
                    url,
                    poolclass=StaticPool,
                    connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
                )
                self._engines[shard] = engine
                while len(self._engines) > KEPT_FILES:
                    self._engines.popitem(last=False)[1].dispose()
            else:
                self._engines.move_to_end(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def has_table(self, table_name: str) -> bool:
        if table_name not in self._tables and super().has_table(table_name):
            self._tables.add(table_name)  # tables are added by migrations, never dropped while running
        return table_name in self._tables

    def _close_engines(self) -> None:
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()

    def wipe(self) -> None:
        self._close_engines()  # the run files are deleted: the next event opens its file anew
        super().wipe()

    def dispose(self) -> None:
        self._close_engines()
        super().dispose()
