"""The audit log: `audit.events`, one append-only row per thing someone did that changes what people see.

Who writes it: exports, `execmetrics dashboards apply`, `execmetrics warehouse grant`, backfills launched from the
CLI, the demo's reset, dbt builds that find a seed (thresholds, policies, FX rates, finance inputs) changed, every
try to deliver an alert, an incident, the board pack or a test message (dashboards/delivery), and any later feature
through `record(...)` or `recorded(...)`.

Each row says when, who (`actor`: EXECMETRICS_ACTOR, else the OS user; plus the database role that wrote it),
what (`action`, `target`, `parameters`), how much (`row_counts`) and how it ended (`outcome`: success or failure,
with `detail`). Rows are written through the SQL function `audit.record(...)` (security definer): no role may
insert, update or delete the table itself, and a trigger refuses UPDATE, DELETE and TRUNCATE from anyone, its
owner included. `execmetrics audit` prints it.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

if TYPE_CHECKING:
    from extract.settings import Settings
    from extract.warehouse import Warehouse

AUDIT_SCHEMA = "audit"
OUTCOMES = ("success", "failure")
DETAIL_LIMIT = 2000

# Action names in use (a new feature adds its own, dotted by area).
EXPORT = "export"
DASHBOARDS_APPLY = "dashboards.apply"
WAREHOUSE_GRANT = "warehouse.grant"
WAREHOUSE_RESET = "warehouse.reset"
BACKFILL = "backfill"
CONFIG_CHANGE = "config.change"
DELIVERY = "delivery"  # delivery.alert, delivery.resolved, delivery.pipeline, delivery.board_pack, delivery.test


class AuditError(RuntimeError):
    """The audit log could not be written (the action it describes may have happened: the message says so)."""


def actor(settings: Settings) -> str:
    """Who the log names: EXECMETRICS_ACTOR (a service, or the person behind a shared account), else the OS user."""
    named = (settings.execmetrics_actor or "").strip()
    if named:
        return named
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return f"uid:{os.getuid()}"


# ------------------------------------------------------------------------------------------------ DDL

DDL = """
create table if not exists audit.events (
    event_id bigint generated always as identity primary key,
    occurred_at timestamptz not null default clock_timestamp(),
    actor text not null,
    db_role text not null default session_user,
    action text not null,
    target text,
    parameters jsonb not null default '{}'::jsonb,
    row_counts jsonb,
    outcome text not null check (outcome in ('success', 'failure')),
    detail text
);
create index if not exists events_occurred_at_ix on audit.events (occurred_at);
create index if not exists events_action_ix on audit.events (action, occurred_at);

create or replace function audit.refuse_change() returns trigger
language plpgsql as $fn$
begin
    raise exception 'audit.events is append-only: % refused', tg_op using errcode = 'insufficient_privilege';
end
$fn$;
drop trigger if exists events_append_only on audit.events;
create trigger events_append_only before update or delete on audit.events
    for each row execute function audit.refuse_change();
drop trigger if exists events_no_truncate on audit.events;
create trigger events_no_truncate before truncate on audit.events
    for each statement execute function audit.refuse_change();

create or replace function audit.record(
    p_actor text, p_action text, p_target text, p_parameters jsonb, p_row_counts jsonb, p_outcome text, p_detail text
) returns bigint
language sql security definer set search_path = pg_catalog, pg_temp as $fn$
    insert into audit.events (actor, db_role, action, target, parameters, row_counts, outcome, detail)
    values (p_actor, session_user, p_action, p_target, coalesce(p_parameters, '{}'::jsonb), p_row_counts, p_outcome,
            p_detail)
    returning event_id
$fn$;

-- The last seen content of each watched configuration (a seed's rows), so a build can tell what changed.
create table if not exists audit.config_state (
    target text primary key,
    content jsonb not null,
    content_hash text not null,
    recorded_at timestamptz not null default clock_timestamp()
);

create or replace function audit.record_config(p_target text, p_content jsonb, p_actor text) returns bigint
language plpgsql security definer set search_path = pg_catalog, pg_temp as $fn$
declare
    previous jsonb;
    new_hash text := md5(p_content::text);
    added jsonb;
    removed jsonb;
begin
    perform pg_advisory_xact_lock(hashtext('execmetrics.config_state'));
    select content into previous from audit.config_state where target = p_target;
    if previous is not null and md5(previous::text) = new_hash then
        return null;
    end if;
    select coalesce(jsonb_agg(e), '[]'::jsonb) into added from jsonb_array_elements(p_content) e
    where not exists (select from jsonb_array_elements(coalesce(previous, '[]'::jsonb)) p where p = e);
    select coalesce(jsonb_agg(e), '[]'::jsonb) into removed from jsonb_array_elements(coalesce(previous, '[]'::jsonb)) e
    where not exists (select from jsonb_array_elements(p_content) n where n = e);
    insert into audit.config_state (target, content, content_hash) values (p_target, p_content, new_hash)
    on conflict (target) do update
        set content = excluded.content, content_hash = excluded.content_hash, recorded_at = clock_timestamp();
    return audit.record(
        p_actor, 'config.change', p_target,
        jsonb_build_object('first_seen', previous is null, 'previous_hash', md5(previous::text),
                           'content_hash', new_hash, 'added', added, 'removed', removed),
        jsonb_build_object('rows', jsonb_array_length(p_content), 'added', jsonb_array_length(added),
                           'removed', jsonb_array_length(removed)),
        'success', null);
end
$fn$;

revoke all on audit.events, audit.config_state from public;
revoke all on function audit.record(text, text, text, jsonb, jsonb, text, text) from public;
revoke all on function audit.record_config(text, jsonb, text) from public;
"""

FUNCTIONS = ("audit.record(text, text, text, jsonb, jsonb, text, text)", "audit.record_config(text, jsonb, text)")


def install(conn: psycopg.Connection, *, writers: Iterable[str] = (), readers: Iterable[str] = ()) -> None:
    """Create or update the audit log (as its owner, the admin) and say who may append to it and read it."""
    conn.execute(
        "do $$ begin if not exists (select from pg_namespace where nspname = 'audit') then create schema audit;"
        " end if; end $$"
    )
    conn.execute(DDL)  # type: ignore[arg-type]
    for role in writers:
        for function in FUNCTIONS:
            conn.execute(sql.SQL("grant execute on function {} to {}").format(sql.SQL(function), sql.Identifier(role)))
    for role in readers:
        conn.execute(sql.SQL("grant select on audit.events to {}").format(sql.Identifier(role)))


def is_installed(conn: psycopg.Connection) -> bool:
    row = conn.execute(
        "select to_regclass('audit.events') is not null and to_regprocedure(%s) is not null",
        (FUNCTIONS[0],),
    ).fetchone()
    return bool(row and row[0])


def ensure_installed(conn: psycopg.Connection) -> None:
    """Install the log where it is missing (a one-user warehouse, where `grant` has not run): the connection's user
    becomes its owner."""
    if not is_installed(conn):
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(hashtext('execmetrics.audit_ddl'))")
            if not is_installed(conn):
                install(conn)


# ------------------------------------------------------------------------------------------------ writing


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=str, sort_keys=True)


def record(
    warehouse: Warehouse,
    action: str,
    *,
    target: str | None = None,
    parameters: dict[str, Any] | None = None,
    row_counts: dict[str, Any] | None = None,
    outcome: str = "success",
    detail: str | None = None,
    who: str | None = None,
) -> int:
    """Append one event, in its own connection and transaction (a failed action's rollback cannot take its audit row
    with it); returns its id. Raises AuditError when the log cannot be written."""
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
    args = (
        who or actor(warehouse.settings),
        action,
        target,
        _json(parameters or {}),
        _json(row_counts),
        outcome,
        detail[:DETAIL_LIMIT] if detail else None,
    )
    statement = "select audit.record(%s, %s, %s, %s::jsonb, %s::jsonb, %s, %s)"
    try:
        with warehouse.connect(autocommit=True) as conn:
            try:
                row = conn.execute(statement, args).fetchone()  # type: ignore[arg-type]
            except (psycopg.errors.UndefinedFunction, psycopg.errors.InvalidSchemaName):
                ensure_installed(conn)
                row = conn.execute(statement, args).fetchone()  # type: ignore[arg-type]
    except psycopg.Error as exc:
        reason = exc.diag.message_primary if exc.diag and exc.diag.message_primary else str(exc)
        raise AuditError(f"could not write the audit log ({action} {target or ''}): {reason}") from exc
    return int(row[0])  # type: ignore[index]


@dataclass
class Pending:
    """An action being carried out: fill in row counts (and more parameters) before it ends."""

    action: str
    target: str | None
    parameters: dict[str, Any] = field(default_factory=dict)
    row_counts: dict[str, Any] | None = None
    event_id: int | None = None


@contextmanager
def recorded(
    warehouse: Warehouse, action: str, *, target: str | None = None, parameters: dict[str, Any] | None = None
) -> Iterator[Pending]:
    """Record the block as one event: `success` when it ends normally, `failure` with the error when it raises
    (the error is re-raised)."""
    pending = Pending(action, target, dict(parameters or {}))
    try:
        yield pending
    except BaseException as exc:
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        try:
            pending.event_id = record(
                warehouse,
                action,
                target=pending.target,
                parameters=pending.parameters,
                row_counts=pending.row_counts,
                outcome="failure",
                detail=detail,
            )
        except AuditError as audit_error:  # the action's own error is the one to report
            exc.add_note(str(audit_error))
        raise
    pending.event_id = record(
        warehouse, action, target=pending.target, parameters=pending.parameters, row_counts=pending.row_counts
    )


# ------------------------------------------------------------------------------------------------ reading


@dataclass(frozen=True)
class Event:
    event_id: int
    occurred_at: datetime
    actor: str
    db_role: str
    action: str
    target: str | None
    parameters: dict[str, Any]
    row_counts: dict[str, Any] | None
    outcome: str
    detail: str | None


def events(
    conn: psycopg.Connection,
    *,
    since: date | datetime | None = None,
    action: str | None = None,
    limit: int | None = None,
) -> list[Event]:
    """Events oldest first; `since` a day (from its start) or an instant; `action` an exact name or its area
    (`dashboards` matches `dashboards.apply`); `limit` keeps the newest N."""
    conds: list[sql.Composable] = []
    params: list[Any] = []
    if since is not None:
        instant = since if isinstance(since, datetime) else datetime.combine(since, time.min)
        conds.append(sql.SQL("occurred_at >= %s"))
        params.append(instant if instant.tzinfo else instant.astimezone())
    if action:
        conds.append(sql.SQL("(action = %s or action like %s)"))
        params += [action, action.replace("%", r"\%").replace("_", r"\_") + ".%"]
    where = sql.SQL(" where ") + sql.SQL(" and ").join(conds) if conds else sql.SQL("")
    query = sql.SQL(
        "select event_id, occurred_at, actor, db_role, action, target, parameters, row_counts, outcome, detail"
        " from audit.events{} order by event_id desc{}"
    ).format(where, sql.SQL(" limit {}").format(sql.Literal(limit)) if limit else sql.SQL(""))
    rows = conn.execute(query, params).fetchall()
    return [Event(*row) for row in reversed(rows)]
