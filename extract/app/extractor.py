"""The app extractor: stage the source's rows in Postgres, let Postgres judge them, route each to raw or rejects.

For each table, in one transaction of its own:
1. COPY the source rows as text into a temporary staging table (a CSV file's fields as they are, a JSONL line whole),
   each with its line in the file (or its row number in the database);
2. one INSERT ... SELECT moves the valid rows of the window into raw.app_<table>; the checks (extract/checks.py,
   generated from extract/tables.py) are Postgres's own input functions plus the declared rules;
3. when some row is not valid, a second pass records each such row in raw._rejects with its reason (file and
   line, column and problem); rows the source itself could not hand over (bad UTF-8, NUL bytes, wrong number of
   CSV fields) are recorded there too. Rows whose watermark is outside the window are skipped and counted.

Keys: a versioned table (tenants, users, jobs) keeps one row per (id, updated_at), an append-only table (events,
api_requests) one per id. A row whose key is already in raw replaces it (a re-run, a late row re-read within the
lookback; never a delete by time range). Within one load, the last line of a key is kept and each earlier one is
rejected as its duplicate (same values) or as a conflicting version (other values).

Counts: rows in the source = loaded + unchanged (already in raw exactly so) + rejected + skipped (outside the
window). The batch record holds loaded and rejected. The watermark is the greatest watermark value in raw that is
not after the load's clock plus `FUTURE_TOLERANCE_MINUTES`: rows beyond it are rejected as in the future.

A table that fails (its source is missing, the database errors) rolls back alone; the others load, and the result
names the failed tables.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import errors
from psycopg.copy import QueuedLibpqWriter

from extract.app.sources import AppSource, NotPlain, PlainCsv, PlainQuery, SourceError, TableRows, open_source
from extract.checks import app_check_sql, app_copy_where, app_fast_sql, app_record_sql, ident, literal
from extract.settings import Settings
from extract.tables import APP_TABLES, BATCH_ID_SETTING, AppTable
from extract.warehouse import (
    REJECT_STAGE_COLUMNS,
    Warehouse,
    analyze_loaded,
    copy_rejects,
    ensure_raw_schema,
    first_line,
    get_watermark,
    insert_rejects_select,
    new_batch_id,
    record_batch,
    set_watermark,
    start_warehouse,
    store_staged_rejects,
)

SOURCE = "app"
log = logging.getLogger(__name__)

Progress = Callable[[str, int], None]


class ExtractError(RuntimeError):
    """Some tables failed; the others were loaded and committed."""


@dataclass
class TableResult:
    table: str
    loaded: int = 0  # rows that landed in raw (new, or replacing a different row with the same key)
    unchanged: int = 0  # rows already in raw with the same values
    rejected: int = 0
    skipped_outside_window: int = 0
    window: tuple[datetime | None, datetime | None] = (None, None)
    watermark: datetime | None = None
    error: str | None = None  # the table failed and nothing of it was committed

    @property
    def source_rows(self) -> int:
        return self.loaded + self.unchanged + self.rejected + self.skipped_outside_window


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

    @property
    def failed(self) -> dict[str, str]:
        return {name: result.error for name, result in self.tables.items() if result.error}


# ------------------------------------------------------------------------------------------------ loading


def _ceiling(conn: psycopg.Connection, tolerance: timedelta) -> datetime:
    """The latest plausible timestamp for this load: the warehouse's clock plus the tolerance."""
    now = conn.execute("select now()").fetchone()[0]  # type: ignore[index]
    return now + tolerance  # type: ignore[no-any-return]


def _latest(conn: psycopg.Connection, spec: AppTable, ceiling: datetime) -> datetime | None:
    mark = spec.watermark
    row = conn.execute(f"select max({mark}) from {spec.raw_table} where {mark} <= %s", (ceiling,)).fetchone()
    return row[0] if row else None


def _window_for(
    conn: psycopg.Connection,
    spec: AppTable,
    start: datetime | None,
    end: datetime | None,
    lookback: timedelta,
    full_refresh: bool,
    ceiling: datetime,
) -> tuple[datetime | None, datetime | None]:
    """The window to load.

    Append-only tables take the window asked for, or, incrementally, everything since the watermark minus the
    lookback. Mutable tables are snapshots of current state: whatever the window, they load every version changed
    since their watermark (everything on a first load or a full refresh), so a partition run never lacks the
    tenants and users its events refer to. A stored watermark beyond the load's clock (left by an earlier version
    that let future rows through) is not trusted: the greatest plausible value in raw replaces it.
    """
    watermark = None if full_refresh else get_watermark(conn, SOURCE, spec.name)
    if watermark is not None and watermark > ceiling:
        log.warning("app.%s: stored watermark %s is in the future; using raw's latest", spec.name, watermark)
        watermark = _latest(conn, spec, ceiling)
    if spec.mode == "versioned":
        return watermark, None
    if start is not None:
        return start, end
    if watermark is None:
        return None, end
    return watermark - lookback, end


STAGE_GROUP_BYTES = 8 << 20  # source text per staging table
REJECT_GROUP_ROWS = 50_000  # rejects the source found (unreadable rows) held in memory before they are staged


class _Stager(threading.Thread):
    """Copies the source into unlogged staging tables, a group of chunks each, on a connection of its own, so that
    Postgres stages the next group while the load's transaction checks and inserts the previous one.

    Rows the source cannot hand over (unreadable ones) are staged as they come too, every REJECT_GROUP_ROWS of them,
    in `raw._stage_<pid>_rejects` on a third connection, so memory stays bounded however many rows are rejected.

    The tables are `raw._stage_<pid>_<n>`, `pid` the backend of the load's own connection (`owner`), which reads and
    drops them in its transaction: a load that dies leaves them behind, and a later load drops those whose owner is
    gone. Named after the stager's connections instead, a stage would look abandoned once they closed, while the load
    (or another table's load beside it) had yet to read it.
    """

    def __init__(
        self, connect: Callable[..., psycopg.Connection], rows: TableRows, progress: Progress | None, owner: int
    ):
        super().__init__(name=f"stage {rows.origin}", daemon=True)
        self.connect = connect
        self.owner = owner
        self.rows = rows
        self.progress = progress
        self.tables: list[str] = []
        self.rejects_table: str | None = None
        self.rejected = 0  # source rejects staged
        self._rejects_conn: psycopg.Connection | None = None
        self._ready: queue.Queue[str | BaseException | None] = queue.Queue()
        self._done = False

    def run(self) -> None:
        try:
            with self.connect(autocommit=True) as conn:
                columns = ", ".join(f"{ident(c)} text" for c in self.rows.stage_columns)
                names = ", ".join(["_line", *map(ident, self.rows.stage_columns)])
                chunks = iter(self.rows.chunks)
                pending = next(chunks, None)
                while True:
                    table = f"raw._stage_{self.owner}_{len(self.tables)}"
                    conn.execute(f"create unlogged table {table} (_line bigint, {columns})")
                    cursor = conn.cursor()
                    size = 0
                    # The queued writer sends from yet another thread: Postgres parses while Python reads on.
                    statement = f"copy {table} ({names}) from stdin with (format csv)"
                    with cursor.copy(statement, writer=QueuedLibpqWriter(cursor)) as copy:
                        while pending is not None and size < STAGE_GROUP_BYTES:
                            copy.write(pending)
                            size += len(pending)
                            pending = next(chunks, None)
                            if len(self.rows.rejects) >= REJECT_GROUP_ROWS:
                                self._stage_rejects()
                    self.tables.append(table)
                    self._ready.put(table)
                    if self.progress is not None:
                        self.progress(self.rows.origin, self.rows.rows)
                    if pending is None:
                        break
            self._stage_rejects()
        except BaseException as exc:  # handed to the load's thread, which raises it
            self._ready.put(exc)
        finally:
            if self._rejects_conn is not None:
                self._rejects_conn.close()
            self._ready.put(None)

    def _stage_rejects(self) -> None:
        """Stage the source's rejects so far, on a connection of their own (the other one is in a COPY)."""
        if not self.rows.rejects:
            return
        if self._rejects_conn is None or self.rejects_table is None:
            self._rejects_conn = self.connect(autocommit=True)
            self.rejects_table = f"raw._stage_{self.owner}_rejects"
            self._rejects_conn.execute(f"create unlogged table {self.rejects_table} ({REJECT_STAGE_COLUMNS})")
        self.rejected += copy_rejects(self._rejects_conn, self.rejects_table, self.rows.rejects)
        self.rows.rejects.clear()

    def staged(self) -> Iterator[str]:
        """The staging tables as they are ready (raises what the staging thread raised)."""
        while not self._done:
            item = self._ready.get()
            if item is None:
                self._done = True
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item

    def finish(self) -> None:
        for _ in self.staged():
            pass
        self.join()

    @property
    def union(self) -> str:
        return "(" + " union all ".join(f"select * from {table}" for table in self.tables) + ")"


def _drop_stale_stages(conn: psycopg.Connection) -> None:
    """Staging tables whose load's backend is gone (a load that died), and any left under this connection's own
    backend (a dead load's, its pid since reused): this connection is about to stage under that number."""
    stale = conn.execute(
        r"""select t.tablename from pg_tables t
            where t.schemaname = 'raw' and t.tablename ~ '^_stage_[0-9]+_([0-9]+|rejects)$'
              and (split_part(t.tablename, '_', 3)::int not in (select pid from pg_stat_activity)
                   or split_part(t.tablename, '_', 3)::int = pg_backend_pid())"""
    ).fetchall()
    for (name,) in stale:
        conn.execute(f"drop table if exists raw.{ident(name)}")


def _where(rows: TableRows) -> str:
    """SQL prefix of a reject's reason: the file and line, or the database table and row."""
    unit = ":" if rows.unit == "line" else " row "
    return f"{literal(rows.origin + unit)} || _line || ': '"


def _dedupe_and_upsert(
    conn: psycopg.Connection,
    spec: AppTable,
    rows: TableRows,
    check: str,
    params: dict[str, Any],
    result: TableResult,
) -> int:
    """The general load: duplicates within the load rejected (the last line of a key is kept), then each key
    inserted or replacing the stored row with the same key when its values differ. Returns the duplicates."""
    columns = spec.column_names
    cols = ", ".join(map(ident, columns))
    good = f"_good_app_{spec.name}"
    conn.execute(
        f"create temp table {good} on commit drop as select _line, {cols}, md5(row({cols})::text) as _hash"
        f" from ({check}) c where _reason is null and not _outside",
        params,
    )
    key = ", ".join(spec.key)
    what = " and ".join(spec.key)
    unit = rows.unit
    record = "json_build_object(" + ", ".join(f"{literal(c)}, {ident(c)}" for c in columns) + ")::text"
    same = (
        f"{literal(f'duplicate of {unit} ')} || keep_line"
        f" || {literal(f' (same {what}, same values; {unit} ')} || keep_line || ' is kept)'"
    )
    other = (
        f"{literal(f'conflicts with {unit} ')} || keep_line"
        f" || {literal(f' (same {what}, other values; the later {unit}, ')} || keep_line || ', is kept)'"
    )
    duplicates = insert_rejects_select(
        conn,
        SOURCE,
        spec.name,
        f"""select {_where(rows)} || case when _hash = keep_hash then {same} else {other} end as reason,
                   {record} as record
            from (select g.*, first_value(_line) over w as keep_line, first_value(_hash) over w as keep_hash,
                         row_number() over w as rn
                  from {good} g window w as (partition by {key} order by _line desc)) d
            where rn > 1""",
        params,
        params["batch_id"],
        (params["start"], params["end"]),
    )
    others = [c for c in columns if c not in spec.key]
    updates = ", ".join(f"{ident(c)} = excluded.{ident(c)}" for c in others)
    changed = " or ".join(f"t.{ident(c)} is distinct from excluded.{ident(c)}" for c in others)
    cursor = conn.execute(
        f"""insert into {spec.raw_table} as t ({cols}, _batch_id)
            select distinct on ({key}) {cols}, %(batch_id)s from {good} order by {key}, _line desc
            on conflict ({key}) do update set {updates}, _batch_id = excluded._batch_id,
                _extracted_at = excluded._extracted_at
            where {changed}""",
        params,
    )
    result.loaded = cursor.rowcount
    winners = conn.execute(f"select count(*) from (select distinct {key} from {good}) k").fetchone()[0]  # type: ignore[index]
    result.unchanged = winners - result.loaded
    return duplicates


def _insert_valid(conn: psycopg.Connection, spec: AppTable, rows: TableRows, stage: str, params: dict[str, Any]) -> int:
    """Insert the valid rows of the window of one staging table; returns how many.

    Values are cast straight away (one parse each, like COPY's); when one cannot be read (a data exception), the
    stage is checked value by value instead (`pg_input_is_valid`), in a savepoint.
    """
    cols = ", ".join(map(ident, spec.column_names))
    insert = f"insert into {spec.raw_table} ({cols}, _batch_id) select {cols}, %(batch_id)s from "
    if rows.shape == "columns":
        try:
            with conn.transaction():
                return conn.execute(insert + f"({app_fast_sql(spec, stage, rows.staged)}) c", params).rowcount
        except errors.DataError:
            pass
    check = app_check_sql(spec, stage, rows.shape, rows.staged)
    return conn.execute(insert + f"({check}) c where _reason is null and not _outside", params).rowcount


def _nothing_to_replace(
    conn: psycopg.Connection, spec: AppTable, window: tuple[datetime | None, datetime | None]
) -> bool:
    """Whether raw holds no row of the window (a first load, a new partition): then the load is likely to be all new
    keys, and worth a direct COPY."""
    mark = ident(spec.watermark)
    bounds, values = [], []
    for bound, value in zip((">=", "<"), window, strict=True):
        if value is not None:
            bounds.append(f"{mark} {bound} %s")
            values.append(value)
    where = " where " + " and ".join(bounds) if bounds else ""
    row = conn.execute(f"select not exists (select from {spec.raw_table}{where})", values).fetchone()
    return bool(row and row[0])


def _load_direct(
    conn: psycopg.Connection,
    spec: AppTable,
    plain: PlainCsv | PlainQuery,
    params: dict[str, Any],
    result: TableResult,
) -> bool:
    """COPY a plain CSV file or app database table straight into the raw table (one parse per value, no staging,
    bulk inserts), in a savepoint. A row outside the window is skipped; anything else that would not load as it is
    (a block that is not plain, a value its type cannot read, a rule broken, a key already in raw or twice in the
    source) ends the COPY with an error, and the savepoint is rolled back: False, and the staging path loads the
    table instead."""
    columns = ", ".join(map(ident, plain.columns))
    conn.execute("select set_config(%s, %s, true)", (BATCH_ID_SETTING, params["batch_id"]))  # _batch_id's default
    known = any(column.tenant for column in spec.columns)
    tenants = [row[0] for row in conn.execute("select id from raw.app_tenants")] if known else []
    params = {**params, "tenants": json.dumps(dict.fromkeys(tenants, True))}
    where = app_copy_where(spec, plain.judges)
    statement = f"copy {spec.raw_table} ({columns}) from stdin with (format csv) where {where}"
    try:
        with conn.transaction():
            cursor = conn.cursor()
            # The queued writer sends from another thread: Postgres parses while Python reads and checks on.
            with cursor.copy(statement, params, writer=QueuedLibpqWriter(cursor)) as copy:
                for chunk in plain.chunks(tenants):
                    copy.write(chunk)
    except (NotPlain, errors.DataError, errors.IntegrityError) as exc:
        log.debug("app.%s: no direct copy, staging the rows (%s)", spec.name, str(exc).strip().splitlines()[0])
        return False
    result.loaded = cursor.rowcount
    result.skipped_outside_window = plain.rows - result.loaded
    return True


def _load_staged(
    conn: psycopg.Connection,
    stager: _Stager,
    spec: AppTable,
    rows: TableRows,
    params: dict[str, Any],
    result: TableResult,
    extracted_at: datetime,
) -> None:
    """Stage the rows, insert the valid ones of the window, record the others in raw._rejects with their reason."""
    batch_id, window = params["batch_id"], (params["start"], params["end"])
    _drop_stale_stages(conn)
    stager.start()
    duplicates = 0
    try:
        try:
            with conn.transaction():  # the common case: every key new and once in the load
                for stage in stager.staged():
                    result.loaded += _insert_valid(conn, spec, rows, stage, params)
        except errors.UniqueViolation:
            stager.finish()
            result.loaded = 0
            check = app_check_sql(spec, stager.union, rows.shape, rows.staged)
            duplicates = _dedupe_and_upsert(conn, spec, rows, check, params, result)
    finally:
        stager.finish()
    staged = rows.rows
    check = app_check_sql(spec, stager.union, rows.shape, rows.staged)
    bad = 0
    if result.loaded + result.unchanged + duplicates < staged:
        bad = insert_rejects_select(
            conn,
            SOURCE,
            spec.name,
            f"select {_where(rows)} || _reason as reason, {app_record_sql(spec, rows.shape, rows.staged)} as record"
            f" from ({check}) c"
            " where _reason is not null and not _outside",
            params,
            batch_id,
            window,
        )
    unreadable = stager.rejected
    if stager.rejects_table is not None:
        store_staged_rejects(conn, SOURCE, spec.name, stager.rejects_table, batch_id, extracted_at, window)
    result.rejected = duplicates + bad + unreadable
    result.skipped_outside_window = staged - result.loaded - result.unchanged - duplicates - bad
    conn.execute(f"drop table {', '.join([*stager.tables, *filter(None, [stager.rejects_table])])}")


def load_table(
    conn: psycopg.Connection,
    connect: Callable[..., psycopg.Connection],
    spec: AppTable,
    rows: TableRows,
    *,
    window: tuple[datetime | None, datetime | None],
    batch_id: str,
    ceiling: datetime,
    progress: Progress | None = None,
) -> TableResult:
    """Load one table's rows for a window in one transaction (the caller's connection, not autocommit); `connect`
    opens the staging connection.

    Rows a source offers as they are (a plain CSV file, sources.PlainCsv; a Postgres app database, sources.PlainQuery)
    into a window raw has no row of are first copied straight into the raw table (_load_direct); when that does not go
    through, and for every other source, the rows are staged and checked."""
    result = TableResult(spec.name, window=window)
    params: dict[str, Any] = {"ceiling": ceiling, "start": window[0], "end": window[1], "batch_id": batch_id}
    with conn.transaction():
        conn.execute("set local timezone = 'UTC'")
        extracted_at = conn.execute("select now()").fetchone()[0]  # type: ignore[index]
        plain = rows.plain
        if (
            plain is not None
            and _nothing_to_replace(conn, spec, window)
            and _load_direct(conn, spec, plain, params, result)
        ):
            rows.rows = plain.rows
            if progress is not None:
                progress(rows.origin, rows.rows)
        else:
            _load_staged(
                conn, _Stager(connect, rows, progress, conn.info.backend_pid), spec, rows, params, result, extracted_at
            )
        result.watermark = _latest(conn, spec, ceiling)
        record_batch(
            conn, batch_id + ":" + spec.name, SOURCE, spec.name, window, result.loaded, result.rejected, extracted_at
        )
        if result.watermark is not None:
            set_watermark(conn, SOURCE, spec.name, result.watermark, ceiling=ceiling)
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
    """Extract the app tables: tenants first (the others are checked against the known tenants), then the others
    side by side on `settings.app_extract_workers` threads (APP_EXTRACT_WORKERS).

    Each table commits on its own. A table that fails is reported in `result.failed`; the others still load.
    """
    names = list(tables) if tables else list(APP_TABLES)
    unknown = [name for name in names if name not in APP_TABLES]
    if unknown:
        raise ValueError(f"unknown app table(s): {', '.join(unknown)}; expected {', '.join(APP_TABLES)}")
    if start is not None and end is not None and start >= end:
        raise ValueError(f"empty window: start {start.isoformat()} is not before end {end.isoformat()}")
    settings = warehouse.settings
    lookback = lookback if lookback is not None else timedelta(hours=settings.app_lookback_hours)
    batch_id = new_batch_id()
    result = AppExtractResult(batch_id, source.description)
    with warehouse.connect() as conn:
        ensure_raw_schema(conn)
        conn.commit()
    ordered = [name for name in APP_TABLES if name in names]

    def extract(name: str) -> TableResult:
        return _extract_table(
            warehouse, source, APP_TABLES[name], start, end, lookback, full_refresh, batch_id, progress
        )

    # Tenants first: the other tables' rows are checked against the known tenants. Those then load side by side,
    # each on its own connections: one table's load keeps about one core busy between Python and the warehouse.
    first = [name for name in ordered if name == "tenants"]
    rest = [name for name in ordered if name != "tenants"]
    for name in first:
        result.tables[name] = extract(name)
    workers = min(settings.app_extract_workers, len(rest))
    if workers <= 1:
        for name in rest:
            result.tables[name] = extract(name)
    else:
        with ThreadPoolExecutor(workers, thread_name_prefix="extract") as pool:
            futures = {name: pool.submit(extract, name) for name in rest}
        for name in rest:  # in the contract's order; the first lost warehouse is raised once every table ended
            result.tables[name] = futures[name].result()
    return result


def _extract_table(
    warehouse: Warehouse,
    source: AppSource,
    spec: AppTable,
    start: datetime | None,
    end: datetime | None,
    lookback: timedelta,
    full_refresh: bool,
    batch_id: str,
    progress: Progress | None,
) -> TableResult:
    """One table's load on a connection of its own, committed alone; a failure other than a lost warehouse comes
    back as the table's error."""
    name = spec.name
    tolerance = timedelta(minutes=warehouse.settings.future_tolerance_minutes)
    with warehouse.connect() as conn:
        try:
            ceiling = _ceiling(conn, tolerance)
            window = _window_for(conn, spec, start, end, lookback, full_refresh, ceiling)
            conn.commit()
            rows = source.read(name, window[0], window[1])
            table = load_table(
                conn,
                warehouse.connect,
                spec,
                rows,
                window=window,
                batch_id=batch_id,
                ceiling=ceiling,
                progress=progress,
            )
        except (psycopg.OperationalError, psycopg.InterfaceError):
            raise  # the warehouse is gone: nothing else can load (the caller may retry)
        except (SourceError, psycopg.Error, OSError, ValueError) as exc:
            conn.rollback()
            message = first_line(exc)
            log.error("app.%s failed: %s", name, message)
            return TableResult(name, error=message)
        except Exception as exc:  # noqa: BLE001 - a source's own failure (a database driver's error, ...)
            conn.rollback()
            message = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
            log.error("app.%s failed: %s", name, message)
            log.debug("app.%s failed", name, exc_info=True)  # the traceback with -v
            return TableResult(name, error=message)
        if table.loaded:
            analyze_loaded(conn, [spec.raw_table], log.warning)
    log.info(
        "app.%s: %s loaded, %s unchanged, %s rejected, %s outside the window %s..%s",
        name,
        table.loaded,
        table.unchanged,
        table.rejected,
        table.skipped_outside_window,
        window[0],
        window[1],
    )
    return table


def run_app_extract(
    settings: Settings,
    say: Callable[[str], None],
    *,
    source: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    tables: Sequence[str] | None = None,
    full_refresh: bool = False,
) -> AppExtractResult:
    """`execmetrics extract app`: the app source given (else the settings' APP_DATABASE_URL or APP_SOURCE_DIR) into
    the raw tables as the loader role, the warehouse started when needed; a window bound without an offset is UTC.
    `say` gets the warehouse's notes and a line per 500,000 rows read."""

    spec = source or settings.app_database_url or (str(settings.app_source_dir) if settings.app_source_dir else None)
    if not spec:
        raise SourceError("no app source: pass --source, or set APP_DATABASE_URL or APP_SOURCE_DIR")
    wh = Warehouse(settings)
    start_warehouse(wh, lambda text: say(f"note: {text}"))
    first, last = (
        None if value is None else value if value.tzinfo else value.replace(tzinfo=UTC) for value in (start, end)
    )
    return extract_app(
        wh.as_role("loader"),
        open_source(spec),
        start=first,
        end=last,
        tables=tables,
        full_refresh=full_refresh,
        progress=lambda name, rows: say(f"  {name}: {rows:,} rows read") if rows % 500_000 == 0 and rows else None,
    )
