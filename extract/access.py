"""Who may see what in the warehouse: four roles, their grants, row-level security on the marts, and the embedded
server's password rule. docs/OPERATIONS.md ("Access control") is the admin's guide to all of it.

The roles, named `<prefix>_<part>` (WAREHOUSE_ROLE_PREFIX, default `execmetrics`):

- loader (extractors, the raw-data checks): owns and writes `raw.*`; writes its checks' results in `audit`.
- transformer (dbt, and the alert delivery and pipeline-health sensors that follow it): reads `raw.*`; owns
  `staging`, `intermediate`, `marts`, `reporting` and `seeds`, and the delivery state in `audit`
  (`alert_deliveries`, `pipeline_notifications`).
- reader (exporter, `execmetrics summary`, `execmetrics alerts list`, Metabase): reads `marts.*` and `reporting.*`
  (every row), `audit.events` and the delivery state.
- tenant (one tenant's embedded dashboard): reads the mart and reporting tables that have a `tenant_id`, and only
  the rows of the
  tenant the connection's `execmetrics.tenant_id` setting names; never an all-tenants (`__all__`) or other
  reserved (`__...`) row.

The loader, transformer and reader may also append to the audit log through `audit.record` (extract/audit.py);
no role may change it.

`grant(warehouse)` creates or updates all of it, idempotently, connected as the warehouse's admin user (the
embedded server's superuser, or `WAREHOUSE_URL`'s user, which must be able to create roles). What dbt builds later
keeps its grants and policies: every model's post-hook calls `access.after_build(schema, name)`, the SQL function
`grant` installs, which enables row-level security and (re)creates the policies and grants on a mart, and gives
whatever the pipeline builds to the transformer whoever ran dbt. One function, used by `grant` on what exists
and by dbt on what it builds, so the two cannot drift apart.

Passwords come from the settings (WAREHOUSE_<PART>_PASSWORD). On the embedded warehouse an unset one is generated
on the first `grant` and kept in `<warehouse_dir>/role-passwords.json` (mode 0600); an external warehouse needs
all four set. Passwords reach Postgres as SCRAM verifiers computed here, never as plain text in a statement.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

from extract.settings import Settings

if TYPE_CHECKING:
    from extract.warehouse import Warehouse

PARTS = ("loader", "transformer", "reader", "tenant")
TENANT_SETTING = "execmetrics.tenant_id"
ACCESS_SCHEMA = "access"
CREDENTIALS_FILE = "role-passwords.json"
TRANSFORMED_SCHEMAS = ("staging", "intermediate", "marts", "reporting", "seeds")
# What readers may read: the marts and the reporting layer over them (every reader's tables).
READ_SCHEMAS = ("marts", "reporting")
RAW_SCHEMA = "raw"
AUDIT_SCHEMA = "audit"
# Tables other parts create in `audit` on first use, as the role that writes them: (owner, whether the reader reads
# them). `grant` hands over those created before the roles existed (or by the admin in a one-user setup).
AUDIT_TABLES = {
    "ge_validation_results": ("loader", False),  # the raw-data checks' results (orchestration/checks/ge.py)
    "alert_deliveries": ("transformer", True),  # what was delivered to whom (dashboards/delivery/store.py)
    "pipeline_notifications": ("transformer", True),
    "seed_loads": ("transformer", False),  # each seed's last load, to load it again only when changed (assets/dbt.py)
}


# Column names that hold personal data: kept out of every export unless INCLUDE_PERSONAL_DATA is set (the marts
# carry none by default; this is the exporter's second line, and what the tests walk the catalog for).
PERSONAL_COLUMN_RE = re.compile(
    r"(^|_)(e_?mail|phone|mobile|street|postal_code|zip_code|ip_address|birth_?date|date_of_birth"
    r"|first_name|last_name|full_name|person_name)($|_)"
)


def is_personal_column(name: str) -> bool:
    return PERSONAL_COLUMN_RE.search(name.lower()) is not None


class AccessError(RuntimeError):
    """Roles cannot be set up as asked; the message says what to change."""


def role_name(settings: Settings, part: str) -> str:
    if part not in PARTS:
        raise ValueError(f"unknown warehouse role {part!r}: one of {', '.join(PARTS)}")
    return f"{settings.warehouse_role_prefix}_{part}"


def role_names(settings: Settings) -> dict[str, str]:
    return {part: role_name(settings, part) for part in PARTS}


def password_variable(part: str) -> str:
    return f"WAREHOUSE_{part.upper()}_PASSWORD"


# ------------------------------------------------------------------------------------------------ passwords


def credentials_path(settings: Settings) -> Path:
    return Path(settings.warehouse_dir) / CREDENTIALS_FILE


def stored_passwords(settings: Settings) -> dict[str, str] | None:
    """The embedded warehouse's generated passwords (None when `grant` has not run there yet)."""
    if settings.warehouse_url:
        return None
    path = credentials_path(settings)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise AccessError(f"cannot read the stored role passwords in {path}: {exc}") from exc
    return {part: str(value) for part, value in data.get("passwords", {}).items() if part in PARTS}


def _store_passwords(settings: Settings, passwords: dict[str, str]) -> None:
    path = credentials_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"passwords": passwords}, handle, indent=2, sort_keys=True)
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def role_password(settings: Settings, part: str) -> str | None:
    """The role's password: the setting, else (embedded warehouse) the generated one; None when neither exists."""
    if _from_settings(settings, part):
        return str(getattr(settings, f"warehouse_{part}_password").get_secret_value())
    return (stored_passwords(settings) or {}).get(part)


def roles_configured(settings: Settings) -> bool:
    """Whether the parts connect as their roles (else every part uses the admin connection, the one-user setup)."""
    return all(role_password(settings, part) for part in PARTS)


def _passwords_for_grant(settings: Settings, rotate: bool) -> tuple[dict[str, str], list[str]]:
    """(part -> password, parts whose password was generated now). Raises AccessError for an external warehouse
    missing a password, or for --rotate of a password that comes from the settings."""
    stored = stored_passwords(settings) or {}
    passwords: dict[str, str] = {}
    generated: list[str] = []
    missing = []
    for part in PARTS:
        if _from_settings(settings, part):
            passwords[part] = str(getattr(settings, f"warehouse_{part}_password").get_secret_value())
        elif settings.warehouse_url:
            missing.append(password_variable(part))
        elif part in stored and not rotate:
            passwords[part] = stored[part]
        else:
            passwords[part] = secrets.token_urlsafe(24)
            generated.append(part)
    if missing:
        raise AccessError(
            "an external warehouse (WAREHOUSE_URL) needs the roles' passwords in the settings: set "
            + ", ".join(missing)
        )
    if rotate and not generated:
        raise AccessError(
            "--rotate renews generated passwords, and every password here comes from the settings: change them"
            " there (WAREHOUSE_<ROLE>_PASSWORD) and run `execmetrics warehouse grant` again"
        )
    return passwords, generated


# ------------------------------------------------------------------------------------------------ embedded auth

HBA_HEADER = "# Written by execmetrics (extract/access.py): edits here are replaced on the next start.\n"


def hba_rules(superuser: str) -> str:
    """pg_hba.conf of the embedded server: its superuser connects from this machine as before (it runs the
    warehouse for the CLI and the tests); every other role must give its password (SCRAM), on TCP and socket."""
    return (
        HBA_HEADER
        + "# TYPE  DATABASE  USER  ADDRESS  METHOD\n"
        + f"local   all   {superuser}   trust\n"
        + "local   all   all   scram-sha-256\n"
        + f"host    all   {superuser}   127.0.0.1/32   trust\n"
        + f"host    all   {superuser}   ::1/128   trust\n"
        + "host    all   all   127.0.0.1/32   scram-sha-256\n"
        + "host    all   all   ::1/128   scram-sha-256\n"
    )


def require_passwords(conninfo: str, superuser: str = "postgres") -> bool:
    """Make the embedded server ask every role but its superuser for a password; returns True when it changed.

    The rules file is found by asking the server (`show hba_file`), rewritten with its owner and mode kept, and
    the server reloads it; a rule the server rejects is reported, not ignored."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        hba = Path(str(conn.execute("show hba_file").fetchone()[0]))  # type: ignore[index]
        wanted = hba_rules(superuser)
        if hba.read_text() == wanted:
            return False
        info = hba.stat()
        tmp = hba.with_name(hba.name + ".execmetrics")
        tmp.write_text(wanted)
        os.chown(tmp, info.st_uid, info.st_gid)
        os.chmod(tmp, info.st_mode & 0o777)
        tmp.replace(hba)
        conn.execute("select pg_reload_conf()")
        errors = conn.execute("select line_number, error from pg_hba_file_rules where error is not null").fetchall()
        if errors:
            raise AccessError(f"the embedded server rejected {hba}: {errors}")
        return True


# ------------------------------------------------------------------------------------------------ SQL objects


def after_build_function(roles: dict[str, str]) -> str:
    """`access.after_build(schema, name)`: what every relation the pipeline builds needs, run by dbt's post-hook
    (as the transformer) and by `grant` (as the admin) on what already exists.

    - In a transformed schema, the relation belongs to the transformer, whoever ran dbt (a superuser's build is
      handed over; anyone else gets a clear error instead of a table the pipeline can no longer replace).
    - In `marts` and `reporting`, a table gets row-level security with two policies: the reader sees every row;
      the tenant role sees the rows whose tenant_id is the connection's `execmetrics.tenant_id`, never a reserved
      `__...` row (`__all__`, `__unassigned__`). The reader may select it; the tenant role only when it has a
      tenant_id (a company-wide table is not a tenant's). A view cannot carry row-level security: the reader only.
    """
    transformed = ", ".join(f"'{schema}'" for schema in TRANSFORMED_SCHEMAS)
    readable = ", ".join(f"'{schema}'" for schema in READ_SCHEMAS)
    return f"""
create or replace function {ACCESS_SCHEMA}.after_build(p_schema text, p_name text) returns void
language plpgsql set search_path = pg_catalog, pg_temp as $fn$
declare
    rel regclass := to_regclass(format('%I.%I', p_schema, p_name));
    kind "char";
    owner_name name;
    has_tenant boolean;
begin
    if rel is null or p_schema not in ({transformed}) then
        return;
    end if;
    select c.relkind, pg_get_userbyid(c.relowner) into kind, owner_name from pg_class c where c.oid = rel;
    if owner_name <> '{roles["transformer"]}' then
        if not pg_has_role(current_user, '{roles["transformer"]}', 'member')
           and not (select rolsuper from pg_roles where rolname = current_user) then
            raise exception '%.% would be owned by %, not by {roles["transformer"]}: run dbt as the transformer role',
                p_schema, p_name, owner_name
                using hint = 'execmetrics warehouse env --role transformer prints the settings dbt needs';
        end if;
        execute format('alter %s %s owner to %I',
            case kind when 'v' then 'view' when 'm' then 'materialized view' else 'table' end,
            rel, '{roles["transformer"]}');
    end if;
    if p_schema not in ({readable}) then
        return;
    end if;
    if kind not in ('r', 'p') then
        execute format('grant select on %s to %I', rel, '{roles["reader"]}');
        execute format('revoke all on %s from %I', rel, '{roles["tenant"]}');
        return;
    end if;
    select exists (
        select from pg_attribute where attrelid = rel and attname = 'tenant_id' and attnum > 0 and not attisdropped
    ) into has_tenant;
    execute format('alter table %s enable row level security', rel);
    execute format('drop policy if exists execmetrics_reader on %s', rel);
    execute format('create policy execmetrics_reader on %s for select to %I using (true)', rel, '{roles["reader"]}');
    execute format('drop policy if exists execmetrics_tenant on %s', rel);
    execute format('grant select on %s to %I', rel, '{roles["reader"]}');
    if has_tenant then
        execute format(
            $p$create policy execmetrics_tenant on %s for select to %I
               using (tenant_id::text = nullif(current_setting('{TENANT_SETTING}', true), '')
                      and tenant_id::text not like '\\_\\_%%')$p$,
            rel, '{roles["tenant"]}');
        execute format('grant select on %s to %I', rel, '{roles["tenant"]}');
    else
        execute format('revoke all on %s from %I', rel, '{roles["tenant"]}');
    end if;
end
$fn$"""


@dataclass
class GrantReport:
    database: str
    roles: dict[str, str]
    created_roles: list[str] = field(default_factory=list)
    generated_passwords: list[str] = field(default_factory=list)
    raw_tables: int = 0
    relations_secured: int = 0
    marts_with_tenant: list[str] = field(default_factory=list)
    marts_without_tenant: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"warehouse roles on database {self.database}:"]
        for part, name in self.roles.items():
            state = "created" if name in self.created_roles else "updated"
            out.append(f"  {part:<12} {name} ({state})")
        if self.generated_passwords:
            out.append("  generated passwords for: " + ", ".join(self.generated_passwords))
        out.append(f"  raw tables owned by the loader: {self.raw_tables}")
        out.append(
            f"  marts secured: {len(self.marts_with_tenant)} with row-level security by tenant, "
            f"{len(self.marts_without_tenant)} reader-only"
        )
        return out

    def as_parameters(self) -> dict[str, object]:
        return {
            "roles": self.roles,
            "created_roles": self.created_roles,
            "generated_passwords": self.generated_passwords,
        }

    def row_counts(self) -> dict[str, int]:
        return {
            "raw_tables": self.raw_tables,
            "relations": self.relations_secured,
            "marts_by_tenant": len(self.marts_with_tenant),
            "marts_reader_only": len(self.marts_without_tenant),
        }


def _ensure_schema(conn: psycopg.Connection, schema: str) -> None:
    exists = conn.execute("select 1 from pg_namespace where nspname = %s", (schema,)).fetchone()
    if not exists:
        conn.execute(sql.SQL("create schema {}").format(sql.Identifier(schema)))


ROLE_ATTRIBUTES = ("rolsuper", "rolcreatedb", "rolcreaterole", "rolreplication", "rolbypassrls")


def _set_role(conn: psycopg.Connection, name: str, password: str) -> bool:
    """Create the login role, or set its password and take back any power it must not have; returns True when it
    was created. Only what differs is altered: an admin that is not a superuser may not even name SUPERUSER."""
    verifier = sql.Literal(conn.pgconn.encrypt_password(password.encode(), name.encode(), b"scram-sha-256").decode())
    found = conn.execute(
        f"select rolcanlogin, {', '.join(ROLE_ATTRIBUTES)} from pg_roles where rolname = %s",  # type: ignore[arg-type]
        (name,),
    ).fetchone()
    if found is None:
        conn.execute(
            sql.SQL("create role {} with login nosuperuser nocreatedb nocreaterole inherit password {}").format(
                sql.Identifier(name), verifier
            )
        )
        return True
    options = [] if found[0] else ["login"]
    options += ["no" + attribute[3:] for attribute, value in zip(ROLE_ATTRIBUTES, found[1:], strict=True) if value]
    conn.execute(
        sql.SQL("alter role {} with {} password {}").format(sql.Identifier(name), sql.SQL(" ".join(options)), verifier)
    )
    return False


def grant(warehouse: Warehouse, *, rotate: bool = False) -> GrantReport:
    """Create or update the roles, their grants and the marts' row-level security; idempotent.

    Runs as the warehouse's admin connection, in one transaction under an advisory lock (two grants at once wait
    for each other). The generated passwords are stored only once the transaction has committed. Recorded in the
    audit log (success or failure)."""
    from extract import audit

    parameters = {"rotate": rotate, "roles": role_names(warehouse.settings)}
    with audit.recorded(warehouse, audit.WAREHOUSE_GRANT, target=warehouse.target.dbname, parameters=parameters) as ev:
        report = _grant(warehouse, rotate)
        ev.parameters.update(report.as_parameters())
        ev.row_counts = report.row_counts()
    return report


def _grant(warehouse: Warehouse, rotate: bool) -> GrantReport:
    from extract import audit
    from extract.warehouse import ensure_raw_schema

    settings = warehouse.settings
    roles = role_names(settings)
    passwords, generated = _passwords_for_grant(settings, rotate)
    report = GrantReport(warehouse.target.dbname, roles, generated_passwords=generated)
    ident = {part: sql.Identifier(name) for part, name in roles.items()}
    with warehouse.connect() as conn, conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext('execmetrics.grant'))")
        superuser = conn.execute("select rolsuper or rolcreaterole from pg_roles where rolname = current_user")
        if not (superuser.fetchone() or (False,))[0]:
            raise AccessError(
                f"{warehouse.target.user} may not create roles: run the grant as the warehouse's owner or a"
                " superuser (WAREHOUSE_URL)"
            )
        is_superuser = conn.execute("select rolsuper from pg_roles where rolname = current_user").fetchone()
        for part in PARTS:
            if _set_role(conn, roles[part], passwords[part]):
                report.created_roles.append(roles[part])
            if not (is_superuser and is_superuser[0]) and part in ("loader", "transformer"):
                # an owner that is not a superuser hands tables over only to roles it is a member of
                conn.execute(sql.SQL("grant {} to current_user").format(ident[part]))
        database = sql.Identifier(warehouse.target.dbname)
        everyone = sql.SQL(", ").join(ident.values())
        conn.execute(sql.SQL("grant connect, temporary on database {} to {}").format(database, everyone))
        for schema in (RAW_SCHEMA, *TRANSFORMED_SCHEMAS, AUDIT_SCHEMA, ACCESS_SCHEMA):
            _ensure_schema(conn, schema)
            conn.execute(sql.SQL("revoke all on schema {} from public").format(sql.Identifier(schema)))
        ensure_raw_schema(conn)

        # raw: the loader owns it; the transformer reads it, now and whatever the loader adds later
        conn.execute(sql.SQL("grant usage, create on schema raw to {}").format(ident["loader"]))
        raw_tables = [
            row[0]
            for row in conn.execute(
                "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
                " where n.nspname = 'raw' and c.relkind in ('r', 'p') order by 1"
            )
        ]
        for table in raw_tables:
            conn.execute(sql.SQL("alter table raw.{} owner to {}").format(sql.Identifier(table), ident["loader"]))
        report.raw_tables = len(raw_tables)
        conn.execute(sql.SQL("grant usage on schema raw to {}").format(ident["transformer"]))
        conn.execute(sql.SQL("grant select on all tables in schema raw to {}").format(ident["transformer"]))
        conn.execute(
            sql.SQL("alter default privileges for role {} in schema raw grant select on tables to {}").format(
                ident["loader"], ident["transformer"]
            )
        )
        # what dbt builds: the transformer owns it; the reader and the tenant get the marts (after_build)
        for schema in TRANSFORMED_SCHEMAS:
            conn.execute(
                sql.SQL("grant usage, create on schema {} to {}").format(sql.Identifier(schema), ident["transformer"])
            )
        for schema in READ_SCHEMAS:
            conn.execute(
                sql.SQL("grant usage on schema {} to {}, {}").format(
                    sql.Identifier(schema), ident["reader"], ident["tenant"]
                )
            )
        # the audit schema: the loader's check results and dbt's stored test failures live there too
        conn.execute(
            sql.SQL("grant usage on schema audit to {}, {}, {}").format(
                ident["loader"], ident["transformer"], ident["reader"]
            )
        )
        conn.execute(sql.SQL("grant create on schema audit to {}, {}").format(ident["loader"], ident["transformer"]))
        for table, (owner, readable) in AUDIT_TABLES.items():
            if conn.execute("select to_regclass(%s)", (f"audit.{table}",)).fetchone()[0]:  # type: ignore[index]
                relation = sql.Identifier(AUDIT_SCHEMA, table)
                conn.execute(sql.SQL("alter table {} owner to {}").format(relation, ident[owner]))
                if readable:
                    conn.execute(sql.SQL("grant select on {} to {}").format(relation, ident["reader"]))
        audit.install(
            conn,
            writers=[roles["loader"], roles["transformer"], roles["reader"]],
            readers=[roles["reader"], roles["transformer"]],
        )
        # the function dbt's post-hook calls, then applied to everything already built
        conn.execute(after_build_function(roles))  # type: ignore[arg-type]
        conn.execute(f"revoke all on function {ACCESS_SCHEMA}.after_build(text, text) from public")
        conn.execute(
            sql.SQL("grant usage on schema {} to {}").format(sql.Identifier(ACCESS_SCHEMA), ident["transformer"])
        )
        conn.execute(
            sql.SQL("grant execute on function {}.after_build(text, text) to {}").format(
                sql.Identifier(ACCESS_SCHEMA), ident["transformer"]
            )
        )
        built = conn.execute(
            """select n.nspname, c.relname, c.relkind,
                          exists (select from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id'
                                  and a.attnum > 0 and not a.attisdropped)
                   from pg_class c join pg_namespace n on n.oid = c.relnamespace
                   where n.nspname = any(%s) and c.relkind in ('r', 'p', 'v', 'm')
                   order by 1, 2""",
            (list(TRANSFORMED_SCHEMAS),),
        ).fetchall()
        for schema, name, kind, has_tenant in built:
            conn.execute(f"select {ACCESS_SCHEMA}.after_build(%s, %s)", (schema, name))  # type: ignore[arg-type]
            if schema in READ_SCHEMAS:
                secured = kind in ("r", "p") and has_tenant
                (report.marts_with_tenant if secured else report.marts_without_tenant).append(name)
        report.relations_secured = len(built)
    if not settings.warehouse_url:  # the file also says "granted" to the embedded warehouse's first start
        _store_passwords(settings, {part: passwords[part] for part in PARTS if not _from_settings(settings, part)})
    return report


def _from_settings(settings: Settings, part: str) -> bool:
    secret = getattr(settings, f"warehouse_{part}_password")
    return secret is not None and bool(secret.get_secret_value())
