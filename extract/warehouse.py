"""The warehouse: where it runs, how to reach it, the raw DDL and the load helpers every extractor shares.

By default the warehouse is an embedded Postgres 16 (the `pgserver` wheel's binaries) with its data under
`.warehouse/pgdata`, listening on 127.0.0.1 and on a unix socket in the data directory. `WAREHOUSE_URL`
points every command at another server instead.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

import psycopg

from extract import server_layout as layout
from extract.settings import Settings
from extract.tables import APP_TABLES, BATCH_ID_DEFAULT, STRIPE_TABLES, app_table_ddl, stripe_table_ddl

MIN_SERVER_VERSION = 160000  # Postgres 16: pg_input_is_valid
RAW_SCHEMAS = ("raw", "staging", "intermediate", "marts", "audit", "seeds")
DEMO_APP_DB = "app_demo"


class WarehouseError(RuntimeError):
    pass


class WarehouseUnreachable(WarehouseError, psycopg.OperationalError):
    """No connection to the warehouse: the message names it (password hidden) and what to check. Still an
    OperationalError, so code that retries or gives up on a lost warehouse treats it as one."""


@dataclass(frozen=True)
class Target:
    """Where a Postgres database is: enough to build a conninfo, a SQLAlchemy URL or dbt's env."""

    host: str
    port: int
    user: str
    password: str
    dbname: str

    @classmethod
    def from_url(cls, url: str) -> Target:
        parsed = urlparse(url)
        if parsed.scheme.split("+")[0] not in ("postgres", "postgresql"):
            raise WarehouseError(f"WAREHOUSE_URL must be a postgresql:// URL, got scheme {parsed.scheme!r}")
        return cls(
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or 5432,
            user=unquote(parsed.username or "postgres"),
            password=unquote(parsed.password or ""),
            dbname=(parsed.path or "/").lstrip("/") or "postgres",
        )

    def with_db(self, dbname: str) -> Target:
        return Target(self.host, self.port, self.user, self.password, dbname)

    @property
    def conninfo(self) -> str:
        return psycopg.conninfo.make_conninfo(
            host=self.host, port=self.port, user=self.user, password=self.password or None, dbname=self.dbname
        )

    @property
    def url(self) -> str:
        auth = quote(self.user, safe="") + (":" + quote(self.password, safe="") if self.password else "")
        return f"postgresql+psycopg://{auth}@{self.host}:{self.port}/{self.dbname}"

    def redacted_url(self) -> str:
        shown = f"{self.user}:***" if self.password else self.user
        return f"postgresql://{shown}@{self.host}:{self.port}/{self.dbname}"

    def dbt_env(self) -> dict[str, str]:
        return {
            "WAREHOUSE_HOST": self.host,
            "WAREHOUSE_PORT": str(self.port),
            "WAREHOUSE_USER": self.user,
            "WAREHOUSE_PASSWORD": self.password,
            "WAREHOUSE_DB": self.dbname,
        }


# The warehouse database compares and sorts text by its bytes. With any other libc collation Postgres 16 compares
# text through strcoll() and sorts it without abbreviated keys, C.UTF-8 included: sorting 3M user ids took 4.6 s
# against 2.5 s in "C" on this project's machine, and the day's models sort and probe text keys (tenant, user and job
# ids) by the million (docs/PERFORMANCE.md, "Text in byte order"). UTF-8's byte order is the order of its code
# points, so a server initialized in C.UTF-8 orders every text the same either way; one in a language's locale
# (en_US.UTF-8) would order names by that language's rules, which the warehouse's figures and listings never
# depended on. The character classes (upper(), lower()) stay the server's.
WAREHOUSE_COLLATION = "C"


def database_options(collation: str | None = WAREHOUSE_COLLATION) -> str:
    """`create database` options for a database in `collation` (None: the server's default). Another collation than
    template1's comes from template0: Postgres requires it."""
    return f"template template0 lc_collate '{collation}'" if collation else ""


def first_line(exc: BaseException) -> str:
    """An error's message in one line: its first, or the error's type when it has no message."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _first_problem(text: str) -> str:
    """The line of a Postgres log or error output that says what went wrong (else its last line)."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    for line in lines:
        for marker in ("FATAL:", "PANIC:", "ERROR:", "error:"):
            if marker in line:
                return line[line.index(marker) :]
    return lines[-1] if lines else "no message"


class EmbeddedServer:
    """Postgres from the pgserver wheel, started detached so it outlives the command that started it.

    Run by root it runs as the `pgserver` system user; where its binaries and data then live, without changing
    any folder's permissions, is extract/server_layout.py's business. `notes` collects what a start decided
    that the user should hear about (a copy of the binaries, data kept outside WAREHOUSE_DIR).
    """

    def __init__(
        self, base_dir: Path, port: int, *, install_dir: Path | None = None, server_home: Path = layout.SERVER_HOME
    ):
        self.base_dir = base_dir.resolve()
        self.port = port
        self.install_dir = install_dir
        self.server_home = server_home
        self.notes: list[str] = []
        self._bin_dir: Path | None = None

    @property
    def pgdata(self) -> Path:
        """The data directory: WAREHOUSE_DIR/pgdata, or the folder that link points to."""
        return (self.base_dir / layout.DATA_LINK).resolve()

    @property
    def log_file(self) -> Path:
        return self.pgdata / "server.log"

    def _run_as(self) -> dict[str, object]:
        # Postgres refuses to run as root: pgserver's convention is a `pgserver` system user.
        if not layout.runs_as_server_user():
            return {}
        layout.ensure_server_user()
        return layout.run_as()

    def _bin(self, name: str) -> str:
        if self._bin_dir is None:
            try:
                self._bin_dir = layout.binaries(self.install_dir, self.server_home, self.notes)
            except layout.LayoutError as exc:
                raise WarehouseError(str(exc)) from None
        return str(self._bin_dir / name)

    def is_running(self) -> bool:
        pid_file = self.pgdata / "postmaster.pid"
        if not pid_file.exists():
            return False
        try:
            pid = int(pid_file.read_text().splitlines()[0])
            os.kill(pid, 0)
        except (ValueError, IndexError, ProcessLookupError, PermissionError):
            return False
        return True

    def start(self) -> bool:
        """Start the server if it is not running; returns True when this call started it."""
        if self.is_running():
            return False
        kwargs = self._run_as()
        try:
            layout.data_directory(self.base_dir, self.server_home, self.notes)
        except layout.LayoutError as exc:
            raise WarehouseError(str(exc)) from None
        if not (self.pgdata / "PG_VERSION").exists():
            init = subprocess.run(
                [self._bin("initdb"), "-D", str(self.pgdata), "--auth=trust", "--encoding=utf8", "-U", "postgres"],
                capture_output=True,
                text=True,
                **kwargs,  # type: ignore[call-overload]
            )
            if init.returncode != 0:
                raise WarehouseError(f"initdb failed in {self.pgdata}: {_first_problem(init.stderr)}")
        logged = self.log_file.stat().st_size if self.log_file.exists() else 0
        options = f"-h 127.0.0.1 -p {self.port} -k {self.pgdata} -c max_connections=200 -c fsync=off"
        result = subprocess.run(
            [
                self._bin("pg_ctl"),
                "-D",
                str(self.pgdata),
                "-w",
                "-t",
                "60",
                "-l",
                str(self.log_file),
                "-o",
                options,
                "start",
            ],
            capture_output=True,
            text=True,
            **kwargs,  # type: ignore[call-overload]
        )
        if result.returncode != 0:
            with contextlib.suppress(OSError), self.log_file.open(errors="replace") as log:
                log.seek(logged)
                result.stderr = log.read() + (result.stderr or "")
            why = _first_problem(result.stderr)
            raise WarehouseError(
                f"the embedded warehouse did not start on 127.0.0.1:{self.port}: {why} (server log: {self.log_file})"
            )
        return True

    def stop(self) -> bool:
        if not self.is_running():
            return False
        subprocess.run(
            [self._bin("pg_ctl"), "-D", str(self.pgdata), "-w", "-m", "fast", "stop"],
            check=True,
            capture_output=True,
            **self._run_as(),  # type: ignore[call-overload]
        )
        return True


class Warehouse:
    """The warehouse server as the settings describe it, reached as its admin user (`as_role` for the parts)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.role: str | None = None  # None: the admin connection (WAREHOUSE_URL's user, the embedded superuser)
        if self.settings.warehouse_url:
            self.target = Target.from_url(self.settings.warehouse_url)
            self.embedded: EmbeddedServer | None = None
        else:
            self.embedded = EmbeddedServer(self.settings.warehouse_dir, self.settings.warehouse_port)
            self.target = Target("127.0.0.1", self.settings.warehouse_port, "postgres", "", self.settings.warehouse_db)

    @property
    def is_external(self) -> bool:
        return self.embedded is None

    def as_role(self, part: str) -> Warehouse:
        """The same warehouse reached as one part's role (loader, transformer, reader, tenant: extract/access.py).

        Where the roles are not set up (an external warehouse without WAREHOUSE_<PART>_PASSWORD, or before the
        first grant) every part uses the admin connection, as a one-user setup does."""
        from extract.access import role_name, role_password

        password = role_password(self.settings, part)
        if password is None:
            return self
        clone = copy.copy(self)
        clone.role = part
        clone.target = Target(
            self.target.host, self.target.port, role_name(self.settings, part), password, self.target.dbname
        )
        return clone

    def ensure_running(self) -> None:
        if self.embedded is not None:
            self.embedded.start()
        self.ensure_database(self.target.dbname)
        if self.embedded is not None and self.role is None:
            self._secure_embedded()

    def _secure_embedded(self) -> None:
        """The embedded server asks every role but its superuser for a password, and gets its roles on first use."""
        from extract.access import grant, require_passwords, stored_passwords

        require_passwords(self.target.with_db("postgres").conninfo, self.target.user)
        if stored_passwords(self.settings) is None:
            grant(self)

    def ensure_database(self, dbname: str, *, collation: str | None = WAREHOUSE_COLLATION) -> None:
        """Create `dbname` when it does not exist: with `collation` (the warehouse's, WAREHOUSE_COLLATION), or None
        for the server's default (the demo's and the benches' stand-ins for an app's database). A database that
        exists keeps the collation it was created with."""
        # an embedded server just started may need a moment; an external one answers or not
        deadline = time.monotonic() + (30 if self.embedded is not None else 5)
        while True:
            try:
                with psycopg.connect(
                    self.target.with_db("postgres").conninfo, autocommit=True, connect_timeout=10
                ) as conn:
                    exists = conn.execute("select 1 from pg_database where datname = %s", (dbname,)).fetchone()
                    if not exists:
                        conn.execute(f'create database "{dbname}" {database_options(collation)}')
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    # the embedded server was started a moment ago: its log says why it does not answer
                    log = f"see {self.embedded.log_file}" if self.embedded is not None else None
                    raise self._unreachable(exc, log) from exc
                time.sleep(0.5)

    def _unreachable(self, exc: psycopg.OperationalError, hint: str | None = None) -> WarehouseUnreachable:
        why = " ".join(str(exc).split())
        if self.is_external:
            what = "check WAREHOUSE_URL and that the server is up"
        else:
            what = hint or "start it with `execmetrics warehouse start`"
        return WarehouseUnreachable(f"cannot reach the warehouse at {self.target.redacted_url()}: {why}; {what}")

    def drop_database(self, dbname: str) -> None:
        with psycopg.connect(self.target.with_db("postgres").conninfo, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{dbname}" with (force)')

    def connect(self, dbname: str | None = None, **kwargs: object) -> psycopg.Connection:
        target = self.target.with_db(dbname) if dbname else self.target
        try:
            return psycopg.connect(target.conninfo, **kwargs)  # type: ignore[arg-type]
        except psycopg.OperationalError as exc:
            raise self._unreachable(exc) from exc

    def dbt_env(self) -> dict[str, str]:
        """What dbt's profile and project read: the connection, plus the settings its hooks and vars use."""
        from extract.audit import actor

        return {
            **self.target.dbt_env(),
            "INCLUDE_PERSONAL_DATA": str(self.settings.include_personal_data).lower(),
            "EXECMETRICS_ACTOR": actor(self.settings),
            "SPARK_DIR": str(Path(self.settings.spark_dir).resolve()),
            "DBT_TARGET": self.settings.dbt_target,
        }


def start_warehouse(wh: Warehouse, say: Callable[[str], None]) -> None:
    """Start the embedded warehouse if needed (or reach WAREHOUSE_URL's), saying what its start decided."""
    wh.ensure_running()
    for note in wh.embedded.notes if wh.embedded is not None else []:
        say(note)


# ---------------------------------------------------------------------------------------------- raw DDL

STRIPE_OBJECT_TABLES = tuple(STRIPE_TABLES)


def create_schema_sql(schema: str) -> str:
    """Create a schema when it is missing. Unlike `create schema if not exists`, this needs no CREATE privilege on
    the database when the schema is there (the loader's case)."""
    return f"do $$ begin if to_regnamespace('{schema}') is null then create schema {schema}; end if; end $$"


def raw_ddl() -> list[str]:
    """The raw schema, generated from the table declarations (extract/tables.py); idempotent."""
    statements = [create_schema_sql(schema) for schema in RAW_SCHEMAS]
    for table in APP_TABLES.values():
        raw = f"app_{table.name}"
        create, key_index, *rest = app_table_ddl(table)
        statements.append(create)
        statements.append(  # warehouses created before _extracted_at and _batch_id had their defaults
            # (the catalog, not information_schema: every load runs this)
            f"""do $$ begin
                if exists (select from pg_attribute where attrelid = 'raw.{raw}'::regclass
                           and attname = '_extracted_at' and not atthasdef)
                then alter table raw.{raw} alter column _extracted_at set default now();
                end if;
                if exists (select from pg_attribute where attrelid = 'raw.{raw}'::regclass
                           and attname = '_batch_id' and not atthasdef)
                then alter table raw.{raw} alter column _batch_id set default {BATCH_ID_DEFAULT};
                end if;
            end $$"""
        )
        index, _ = table.key_index
        statements.append(  # warehouses created before rows were unique on their key: keep the last loaded row
            # (an append-only table unique on its id alone, {raw}_key_uq before, is unique on its id and moment)
            f"""do $$ begin
                if not exists (select from pg_indexes where schemaname = 'raw'
                               and indexname in ('{index}', '{raw}_key_uq')) then
                    delete from raw.{raw} a using raw.{raw} b
                    where ({", ".join("a." + c for c in table.key)}) = ({", ".join("b." + c for c in table.key)})
                      and a.ctid < b.ctid;
                end if;
            end $$"""
        )
        statements.append(key_index)
        statements.append(f"drop index if exists raw.{raw}_version_uq")  # the key index replaces it
        if index != f"{raw}_key_uq":  # an append-only table's id index and watermark index, which it replaces
            statements += [
                f"drop index if exists raw.{raw}_key_uq",
                f"drop index if exists raw.{raw}_{table.watermark}_ix",
            ]
        statements += rest
    for spec in STRIPE_TABLES.values():
        statements += stripe_table_ddl(spec)
    statements += [
        """create table if not exists raw._rejects (
            reject_id bigserial primary key, source text not null, table_name text not null, reason text not null,
            record text, record_hash text not null, window_start timestamptz, window_end timestamptz,
            _batch_id text not null, _extracted_at timestamptz not null)""",
        # The same bad record rejected again (a re-run of a window) is recorded once.
        "create unique index if not exists _rejects_record_uq"
        " on raw._rejects (source, table_name, reason, record_hash)",
        """create table if not exists raw._watermarks (
            source text not null, table_name text not null, watermark timestamptz not null,
            updated_at timestamptz not null default now(), primary key (source, table_name))""",
        """create table if not exists raw._batches (
            batch_id text primary key, source text not null, table_name text, window_start timestamptz,
            window_end timestamptz, rows_loaded bigint not null default 0, rows_rejected bigint not null default 0,
            started_at timestamptz not null, finished_at timestamptz)""",
        # The transaction that committed the batch (its record is written in the load's transaction): a dbt build
        # that saw it committed (pg_visible_in_snapshot) has read its rows (dbt_project/macros/late_rows.sql).
        # Batches recorded before the column existed keep null: added, then given its default, so that existing rows
        # are not all stamped with the transaction that adds it (and only then: every load runs this).
        """do $$ begin
            if not exists (select from pg_attribute where attrelid = 'raw._batches'::regclass and attname = 'xact')
            then
                alter table raw._batches add column xact xid8;
                alter table raw._batches alter column xact set default pg_current_xact_id();
            end if;
        end $$""",
        # Each Stripe dump file's last load that took every object in it: unchanged, it is not read again
        # (extract/stripe/dump.py).
        """create table if not exists raw._stripe_dump_files (
            object_type text primary key, file_name text not null, size_bytes bigint not null,
            mtime_ns bigint not null, sha256 text not null, objects bigint not null, batch_id text not null,
            loaded_at timestamptz not null)""",
    ]
    return statements


def check_server_version(conn: psycopg.Connection) -> None:
    """The loads let Postgres judge input (pg_input_is_valid, pg_input_error_info): Postgres 16 or later."""
    version = conn.info.server_version
    if version < MIN_SERVER_VERSION:
        shown = f"{version // 10000}.{version % 10000}" if version >= 100000 else str(version)
        raise WarehouseError(
            f"the warehouse runs Postgres {shown}; execmetrics needs Postgres 16 or later"
            " (its loads validate input with pg_input_is_valid)"
        )


def ensure_raw_schema(conn: psycopg.Connection) -> None:
    check_server_version(conn)
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext('execmetrics.raw_ddl'))")
        # One round trip (a query without parameters may hold several statements): every load starts here.
        conn.execute(";\n".join(raw_ddl()))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- batches


def new_batch_id() -> str:
    return datetime.now().strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


@dataclass
class Reject:
    reason: str
    record: str


def _storable(text: str) -> str:
    """Text Postgres can store: NUL bytes and lone surrogates (what made the record a reject) written out."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


REJECT_STAGE_COLUMNS = "reason text, record text, record_hash text"


def copy_rejects(conn: psycopg.Connection, stage: str, rejects: Iterable[Reject]) -> int:
    """COPY rejected records (reason, record, the record's hash) into a staging table made with
    REJECT_STAGE_COLUMNS; returns how many."""
    count = 0
    with conn.cursor().copy(f"copy {stage} (reason, record, record_hash) from stdin") as copy:
        for reject in rejects:
            reason, record = _storable(reject.reason), _storable(reject.record)
            digest = hashlib.sha256(record.encode()).hexdigest()[:32]
            copy.write_row((reason, record, digest))
            count += 1
    return count


def store_staged_rejects(
    conn: psycopg.Connection,
    source: str,
    table_name: str,
    stage: str,
    batch_id: str,
    extracted_at: datetime,
    window: tuple[datetime | None, datetime | None] = (None, None),
) -> None:
    """Move the rejects of a staging table (copy_rejects) into raw._rejects; one row per reason and record."""
    conn.execute(
        f"""insert into raw._rejects (source, table_name, reason, record, record_hash, window_start, window_end,
                                     _batch_id, _extracted_at)
           select distinct on (reason, record_hash) %s, %s, reason, record, record_hash, %s, %s, %s, %s
           from {stage}
           on conflict (source, table_name, reason, record_hash) do nothing""",
        (source, table_name, window[0], window[1], batch_id, extracted_at),
    )


def insert_rejects(
    conn: psycopg.Connection,
    source: str,
    table_name: str,
    rejects: Iterable[Reject],
    batch_id: str,
    extracted_at: datetime,
    window: tuple[datetime | None, datetime | None] = (None, None),
) -> int:
    """Record rejected records with their reasons; returns how many were handed in (re-rejections included)."""
    conn.execute(f"create temp table if not exists _stage_rejects ({REJECT_STAGE_COLUMNS}) on commit drop")
    conn.execute("truncate _stage_rejects")
    count = copy_rejects(conn, "_stage_rejects", rejects)
    store_staged_rejects(conn, source, table_name, "_stage_rejects", batch_id, extracted_at, window)
    return count


def insert_rejects_select(
    conn: psycopg.Connection,
    source: str,
    table_name: str,
    select_sql: str,
    params: dict[str, object],
    batch_id: str,
    window: tuple[datetime | None, datetime | None] = (None, None),
) -> int:
    """Record the rejects a query finds (its columns `reason` and `record`), stamped with the transaction's start;
    returns how many it found (re-rejections of a record already recorded with the same reason included)."""
    row = conn.execute(
        f"""with found as ({select_sql}),
            stored as (
                insert into raw._rejects (source, table_name, reason, record, record_hash, window_start, window_end,
                                          _batch_id, _extracted_at)
                select %(_r_source)s, %(_r_table)s, reason, record,
                       left(encode(sha256(convert_to(coalesce(record, ''), 'UTF8')), 'hex'), 32),
                       %(_r_start)s, %(_r_end)s, %(_r_batch)s, now()
                from found
                on conflict (source, table_name, reason, record_hash) do nothing)
            select count(*) from found""",  # type: ignore[arg-type]
        {
            **params,
            "_r_source": source,
            "_r_table": table_name,
            "_r_start": window[0],
            "_r_end": window[1],
            "_r_batch": batch_id,
        },
    ).fetchone()
    return int(row[0]) if row else 0


def get_watermark(conn: psycopg.Connection, source: str, table_name: str) -> datetime | None:
    row = conn.execute(
        "select watermark from raw._watermarks where source = %s and table_name = %s", (source, table_name)
    ).fetchone()
    return row[0] if row else None


def set_watermark(
    conn: psycopg.Connection, source: str, table_name: str, watermark: datetime, ceiling: datetime | None = None
) -> None:
    """Advance a watermark (never back), except that a stored value beyond `ceiling` (the load's clock plus the
    tolerance) is not trusted and gives way."""
    conn.execute(
        """insert into raw._watermarks (source, table_name, watermark) values (%(source)s, %(table)s, %(mark)s)
           on conflict (source, table_name) do update
           set watermark = greatest(
                   case when %(ceiling)s::timestamptz is null or raw._watermarks.watermark <= %(ceiling)s::timestamptz
                        then raw._watermarks.watermark end,
                   excluded.watermark),
               updated_at = now()""",
        {"source": source, "table": table_name, "mark": watermark, "ceiling": ceiling},
    )


def record_batch(
    conn: psycopg.Connection,
    batch_id: str,
    source: str,
    table_name: str | None,
    window: tuple[datetime | None, datetime | None],
    rows_loaded: int,
    rows_rejected: int,
    started_at: datetime,
) -> None:
    conn.execute(
        """insert into raw._batches (batch_id, source, table_name, window_start, window_end, rows_loaded,
                                     rows_rejected, started_at, finished_at)
           values (%s, %s, %s, %s, %s, %s, %s, %s, clock_timestamp())""",
        (batch_id, source, table_name, window[0], window[1], rows_loaded, rows_rejected, started_at),
    )


def analyze_loaded(conn: psycopg.Connection, raw_tables: Iterable[str], say: Callable[[str], None]) -> None:
    """Fresh statistics for raw tables a committed load added rows to, before dbt plans the models that read them.

    A load's rows lie past the last analyze's histogram until autovacuum comes round, which is after the run's
    models have been planned: Postgres then took the scale-1 day's 11.5M API requests for about 1 % of the table,
    hashed them in int_daily_api instead of the excluded users, and the parallel hash failed (docs/PERFORMANCE.md,
    "Scale 1"). An ANALYZE reads a sample: about a second a table at that size. The load is committed already, so a
    table that cannot be analyzed only says so (`say`) and leaves its statistics to autovacuum; `conn` must not be
    in a transaction of the caller's."""
    for table in raw_tables:
        try:
            with conn.transaction():
                conn.execute(f"analyze {table}")
        except (psycopg.OperationalError, psycopg.InterfaceError):
            raise
        except psycopg.Error as exc:
            say(f"{table}: loaded, but not analyzed: {first_line(exc)}")


@contextmanager
def copy_text(conn: psycopg.Connection, table: str, columns: Iterable[str]) -> Iterator[psycopg.Copy]:
    """A COPY ... FROM STDIN in Postgres text format; callers write pre-formatted, escaped lines."""
    with conn.cursor().copy(f"copy {table} ({', '.join(columns)}) from stdin") as copy:
        yield copy


def copy_escape(value: object) -> str:
    """One field in COPY text format."""
    if value is None:
        return "\\N"
    text = value if isinstance(value, str) else str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text
