"""The warehouse roles on the real Postgres: each part reaches what it needs and nothing else; the tenant role
sees its own rows only; grants and policies survive a full refresh; the grant is idempotent.

The marts are walked from the catalog, so a new mart is covered without editing these tests."""

from __future__ import annotations

import psycopg
import pytest
from access_helpers import FIRST_DAY, LAST_DAY, Granted, catalog
from psycopg import sql

from extract.access import PARTS, grant
from extract.warehouse import Warehouse

RESERVED = ("__all__", "__unassigned__")


def _dbt(env: Granted, wh: Warehouse, args: list[str], dbt_vars: dict[str, str] | None = None) -> None:
    """`dbt <args>` as `wh`'s role, in a target folder of its own for each role, personal-data choice and set of vars:
    a later call with the same profile starts from the saved parse instead of parsing the whole project again."""
    from orchestration.dbt_cli import run_dbt

    folder = (
        wh.target.user
        + ("-personal" if wh.settings.include_personal_data else "")
        + "".join(f"-{name}" for name in sorted(dbt_vars or {}))
    )
    run_dbt(args, wh.target, dbt_vars, target_path=env.root / "dbt" / folder, env=wh.dbt_env())


def _admin(env: Granted) -> psycopg.Connection:
    return env.warehouse.connect(autocommit=True)


def _refused(conn: psycopg.Connection, statement: sql.Composable | str) -> bool:
    try:
        conn.execute(statement)  # type: ignore[arg-type]
    except psycopg.errors.InsufficientPrivilege:
        return True
    return False


def _privileges_snapshot(env: Granted) -> list[tuple]:
    """Everything the grant decides: role attributes, schema and relation ACLs, owners, policies, RLS flags."""
    names = [env.role_name(part) for part in PARTS]
    with _admin(env) as conn:
        roles = conn.execute(
            "select rolname, rolsuper, rolcanlogin, rolcreaterole, rolcreatedb, rolbypassrls from pg_roles"
            " where rolname = any(%s) order by 1",
            (names,),
        ).fetchall()
        schemas = conn.execute(
            "select nspname, pg_get_userbyid(nspowner), nspacl::text from pg_namespace"
            " where nspname in ('raw', 'staging', 'intermediate', 'marts', 'seeds', 'audit', 'access') order by 1"
        ).fetchall()
        relations = conn.execute(
            """select n.nspname, c.relname, pg_get_userbyid(c.relowner), c.relacl::text, c.relrowsecurity
               from pg_class c join pg_namespace n on n.oid = c.relnamespace
               where n.nspname in ('raw', 'staging', 'intermediate', 'marts', 'seeds', 'audit')
                 and c.relkind in ('r', 'p', 'v', 'm') order by 1, 2"""
        ).fetchall()
        policies = conn.execute(
            "select schemaname, tablename, policyname, roles::text, qual from pg_policies order by 1, 2, 3"
        ).fetchall()
        defaults = conn.execute("select defaclrole::regrole::text, defaclacl::text from pg_default_acl").fetchall()
    return [tuple(roles), tuple(schemas), tuple(relations), tuple(policies), tuple(sorted(defaults))]


def test_grant_is_idempotent(built: Granted) -> None:
    before = _privileges_snapshot(built)
    report = grant(built.warehouse)
    assert report.created_roles == []  # they exist: updated, not created again
    assert _privileges_snapshot(built) == before
    assert report.marts_with_tenant and report.raw_tables > 10


def test_every_role_needs_its_password(built: Granted) -> None:
    for part in PARTS:
        good = built.role(part).target
        with psycopg.connect(good.conninfo) as conn:
            assert conn.execute("select current_user").fetchone()[0] == built.role_name(part)
        for password in ("", "wrong"):
            bad = psycopg.conninfo.make_conninfo(good.conninfo, password=password)
            with pytest.raises(psycopg.OperationalError, match="password"):
                psycopg.connect(bad)
    # the passwords never reach pg_authid in clear: SCRAM verifiers only
    with _admin(built) as conn:
        stored = conn.execute(
            "select rolpassword from pg_authid where rolname like %s", (built.prefix + "_%",)
        ).fetchall()
    assert len(stored) == len(PARTS) and all(row[0].startswith("SCRAM-SHA-256$") for row in stored)


def test_reader_is_refused_on_every_raw_table_and_anything_but_the_marts(built: Granted) -> None:
    with _admin(built) as conn:
        hidden = {schema: catalog(conn, schema) for schema in ("raw", "staging", "intermediate", "seeds")}
    assert len(hidden["raw"]) >= 20 and hidden["staging"] and hidden["intermediate"] and hidden["seeds"]
    with built.role("reader").connect(autocommit=True) as conn:
        for schema, tables in hidden.items():
            for table in tables:
                query = sql.SQL("select 1 from {}.{} limit 1").format(sql.Identifier(schema), sql.Identifier(table))
                assert _refused(conn, query), f"the reader can read {schema}.{table}"


def test_reader_reads_every_mart_row_and_writes_nothing(built: Granted) -> None:
    with _admin(built) as conn:
        marts = catalog(conn, "marts")
        counts = {
            table: conn.execute(sql.SQL("select count(*) from marts.{}").format(sql.Identifier(table))).fetchone()[0]
            for table in marts
        }
    assert len(marts) >= 10 and sum(counts.values()) > 0
    with built.role("reader").connect(autocommit=True) as conn:
        for table in marts:
            ident = sql.Identifier(table)
            seen = conn.execute(sql.SQL("select count(*) from marts.{}").format(ident)).fetchone()[0]
            assert seen == counts[table], f"the reader sees {seen} of the {counts[table]} rows of marts.{table}"
            for write in (
                sql.SQL("delete from marts.{}").format(ident),
                sql.SQL("update marts.{} set {} = {}").format(
                    ident,
                    sql.Identifier(next(iter(sorted(marts[table])))),
                    sql.Identifier(next(iter(sorted(marts[table])))),
                ),
                sql.SQL("insert into marts.{} default values").format(ident),
                sql.SQL("truncate marts.{}").format(ident),
                sql.SQL("alter table marts.{} disable row level security").format(ident),
            ):
                assert _refused(conn, write), f"the reader may: {write.as_string(conn)}"
        for ddl in ("create table marts.reader_table (x int)", "create table raw.reader_table (x int)"):
            assert _refused(conn, ddl)


def test_tenant_sees_its_own_rows_only_in_every_mart_with_a_tenant(built: Granted) -> None:
    with _admin(built) as conn:
        marts = catalog(conn, "marts")
        with_tenant = sorted(table for table, columns in marts.items() if "tenant_id" in columns)
        tenants = [
            row[0]
            for row in conn.execute(
                "select distinct tenant_id from marts.fct_daily_metrics where tenant_id not like '\\_\\_%' order by 1"
            )
        ]
        own: dict[tuple[str, str], int] = {}
        for table in with_tenant:
            for tenant in tenants:
                query = sql.SQL("select count(*) from marts.{} where tenant_id = %s").format(sql.Identifier(table))
                own[(table, tenant)] = conn.execute(query, (tenant,)).fetchone()[0]
    assert len(tenants) >= 2 and len(with_tenant) >= 8
    assert sum(own.values()) > 0, "no tenant rows at all: the test would prove nothing"
    for tenant in tenants:
        with psycopg.connect(built.tenant_conninfo(tenant), autocommit=True) as conn:
            for table in with_tenant:
                ident = sql.Identifier(table)
                others = conn.execute(
                    sql.SQL("select count(*) from marts.{} where tenant_id is distinct from %s").format(ident),
                    (tenant,),
                ).fetchone()[0]
                reserved = conn.execute(
                    sql.SQL("select count(*) from marts.{} where tenant_id = any(%s)").format(ident), (list(RESERVED),)
                ).fetchone()[0]
                mine = conn.execute(sql.SQL("select count(*) from marts.{}").format(ident)).fetchone()[0]
                assert (others, reserved) == (0, 0), f"tenant {tenant} sees other rows of marts.{table}"
                assert mine == own[(table, tenant)], f"tenant {tenant} misses its own rows of marts.{table}"
            # a company-wide mart (no tenant_id) is not a tenant's to read
            for table in sorted(set(marts) - set(with_tenant)):
                assert _refused(conn, sql.SQL("select 1 from marts.{}").format(sql.Identifier(table)))
            assert _refused(conn, "select 1 from raw.app_events")


def test_tenant_without_the_setting_or_asking_for_all_sees_nothing(built: Granted) -> None:
    with _admin(built) as conn:
        marts = catalog(conn, "marts")
    with_tenant = sorted(table for table, columns in marts.items() if "tenant_id" in columns)
    for setting in (None, "", "__all__", "__unassigned__"):
        with psycopg.connect(built.tenant_conninfo(setting), autocommit=True) as conn:
            for table in with_tenant:
                seen = conn.execute(sql.SQL("select count(*) from marts.{}").format(sql.Identifier(table))).fetchone()
                assert seen[0] == 0, f"tenant setting {setting!r} sees rows of marts.{table}"


def test_loader_and_transformer_stay_in_their_lanes(built: Granted) -> None:
    with built.role("loader").connect(autocommit=True) as conn:
        assert conn.execute("select count(*) from raw.app_events").fetchone()[0] > 0
        assert _refused(conn, "select 1 from marts.fct_daily_metrics")
        assert _refused(conn, "select 1 from staging.stg_app__events")
        assert _refused(conn, "create table marts.loader_table (x int)")
    with built.role("transformer").connect(autocommit=True) as conn:
        assert conn.execute("select count(*) from raw.app_events").fetchone()[0] > 0
        assert _refused(conn, "delete from raw.app_events")
        assert _refused(conn, "insert into raw._watermarks (source, table_name, watermark) values ('x', 'y', now())")
        assert _refused(conn, "create table raw.transformer_table (x int)")
        assert _refused(conn, "update audit.events set actor = 'someone else'")


def _mart_oids(env: Granted) -> dict[str, int]:
    with _admin(env) as conn:
        rows = conn.execute(
            "select c.relname, c.oid::bigint from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname = 'marts' and c.relkind = 'r'"
        ).fetchall()
    return dict(rows)


def test_grants_and_policies_survive_a_full_refresh(built: Granted) -> None:
    before = _mart_oids(built)
    vars_ = {"min_date": FIRST_DAY.isoformat(), "max_date": LAST_DAY.isoformat()}
    _dbt(built, built.role("transformer"), ["build", "--full-refresh", "--exclude", "resource_type:test"], vars_)
    after = _mart_oids(built)
    assert set(after) == set(before)
    assert all(after[name] != before[name] for name in before), "the full refresh did not rebuild every mart"
    with _admin(built) as conn:
        unsecured = conn.execute(
            """select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
               where n.nspname = 'marts' and c.relkind = 'r'
                 and (not c.relrowsecurity or pg_get_userbyid(c.relowner) <> %s)""",
            (built.role_name("transformer"),),
        ).fetchall()
    assert unsecured == []
    # the same guarantees as before the rebuild
    test_reader_reads_every_mart_row_and_writes_nothing(built)
    test_tenant_sees_its_own_rows_only_in_every_mart_with_a_tenant(built)


def test_a_superusers_build_is_handed_to_the_transformer(built: Granted) -> None:
    """An analyst building as the admin does not leave tables the pipeline's role can no longer replace (nor the
    table of builds the run's start creates, macros/late_rows.sql)."""
    with _admin(built) as conn:
        conn.execute("drop table intermediate._late_row_builds")
    _dbt(built, built.warehouse, ["run", "--select", "dim_tenants stg_app__tenants"])
    with _admin(built) as conn:
        owners = dict(
            conn.execute(
                "select c.relname, pg_get_userbyid(c.relowner) from pg_class c"
                " where c.relname in ('dim_tenants', 'stg_app__tenants', '_late_row_builds')"
            ).fetchall()
        )
        secured = conn.execute("select relrowsecurity from pg_class where relname = 'dim_tenants'").fetchone()[0]
    transformer = built.role_name("transformer")
    assert owners == {"dim_tenants": transformer, "stg_app__tenants": transformer, "_late_row_builds": transformer}
    assert secured


# ------------------------------------------------------------------------------------------------ audit log


def _events(env: Granted, action: str) -> list:
    from extract import audit

    with env.role("reader").connect() as conn:
        return audit.events(conn, action=action)


def test_the_cli_backfill_and_grant_are_in_the_audit_log(built: Granted) -> None:
    (backfill,) = _events(built, "backfill")
    assert backfill.outcome == "success" and backfill.actor == "access-tests"
    assert backfill.parameters["start"] == FIRST_DAY.isoformat() and backfill.parameters["end"] == LAST_DAY.isoformat()
    assert len(backfill.parameters["runs"]) == 2  # the daily run and the monthly run
    with _admin(built) as conn:
        events_in_raw = conn.execute("select count(*) from raw.app_events").fetchone()[0]
    assert backfill.row_counts["raw/app_events"] == events_in_raw > 0
    grants = _events(built, "warehouse.grant")
    assert grants and all(event.outcome == "success" for event in grants)
    assert grants[0].parameters["roles"]["reader"] == built.role_name("reader")
    assert grants[0].row_counts["raw_tables"] >= 20


def test_a_build_records_each_seed_once_and_a_changed_seed_again(built: Granted) -> None:
    with _admin(built) as conn:
        seeds = sorted(catalog(conn, "seeds"))
    first = _events(built, "config.change")
    assert sorted(event.target for event in first) == sorted(f"seeds.{name}" for name in seeds)
    assert all(event.parameters["first_seen"] and event.actor == "access-tests" for event in first)

    transformer = built.role("transformer")
    with transformer.connect(autocommit=True) as conn:  # someone edits a threshold and rebuilds
        conn.execute("update seeds.alert_thresholds set threshold = 0.5 where rule_id = 'jobs_success_rate_critical'")
    _dbt(built, transformer, ["run", "--select", "dim_tenants"])
    changed = _events(built, "config.change")[len(first) :]
    assert [event.target for event in changed] == ["seeds.alert_thresholds"]
    (event,) = changed
    assert [row["threshold"] for row in event.parameters["added"]] == [0.5]
    assert [row["rule_id"] for row in event.parameters["removed"]] == ["jobs_success_rate_critical"]
    with transformer.connect(autocommit=True) as conn:
        rules = conn.execute("select count(*) from seeds.alert_thresholds").fetchone()[0]  # type: ignore[index]
    assert event.row_counts == {"rows": rules, "added": 1, "removed": 1} and rules >= 6
    # the seed file puts the value back: one more change; a build without changes records nothing
    _dbt(built, transformer, ["seed", "--select", "alert_thresholds"])
    _dbt(built, transformer, ["run", "--select", "dim_tenants"])
    again = _events(built, "config.change")[len(first) + 1 :]
    assert [e.target for e in again] == ["seeds.alert_thresholds"]
    assert (
        again[0].parameters["content_hash"]
        == first[[e.target for e in first].index("seeds.alert_thresholds")].parameters["content_hash"]
    )


# ------------------------------------------------------------------------------------------------ personal data


def _csv_headers(directory) -> dict[str, list[str]]:  # noqa: ANN001
    import csv

    headers = {}
    for path in sorted(directory.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            headers[path.stem] = next(csv.reader(handle))
    return headers


def test_no_personal_data_in_any_mart_or_export(built: Granted, tmp_path) -> None:  # noqa: ANN001
    from typer.testing import CliRunner

    from dashboards.export.catalog import NOT_EXPORTED
    from extract.access import is_personal_column
    from orchestration.cli import app

    with _admin(built) as conn:
        marts = catalog(conn, "marts")
        reporting = catalog(conn, "reporting")
    assert "dim_revenue_customers" in marts and "dim_revenue_customer_contacts" not in marts
    assert "rpt_customers" in reporting and "rpt_customer_contacts" not in reporting
    assert {
        (table, column)
        for tables in (marts, reporting)
        for table, columns in tables.items()
        for column in columns
        if is_personal_column(column)
    } == set()

    result = CliRunner().invoke(app, ["export", "--out", str(tmp_path), "--no-pdf"])
    assert result.exit_code == 0, result.output
    headers = _csv_headers(tmp_path / "csv")
    assert set(headers) == set(reporting) - NOT_EXPORTED
    assert [(t, c) for t, columns in headers.items() for c in columns if is_personal_column(c)] == []
    # the export is in the audit log with the rows it wrote per table (CSV lines minus the header)
    export = _events(built, "export")[-1]
    assert export.outcome == "success" and export.target == str(tmp_path)
    assert export.parameters["personal_data"] is False
    for table in headers:
        lines = (tmp_path / "csv" / f"{table}.csv").read_text(encoding="utf-8").count("\n")
        assert export.row_counts[table] == lines - 1, table


def test_personal_data_only_when_included_and_dropped_after(built: Granted, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from dashboards.export import export_all
    from extract.settings import Settings

    monkeypatch.setenv("INCLUDE_PERSONAL_DATA", "true")
    included = Warehouse(Settings()).as_role("transformer")
    selected = ["dim_revenue_customer_contacts", "rpt_customer_contacts"]
    _dbt(built, included, ["run", "--select", *selected])
    with _admin(built) as conn:
        contacts = conn.execute("select tenant_id, email from reporting.rpt_customer_contacts order by 1").fetchall()
    assert contacts and all(email and "@" in email for _, email in contacts)
    tenant = contacts[0][0]
    with psycopg.connect(built.tenant_conninfo(tenant), autocommit=True) as conn:  # secured like every mart
        for table in ("marts.dim_revenue_customer_contacts", "reporting.rpt_customer_contacts"):
            seen = conn.execute(f"select distinct tenant_id from {table}").fetchall()
            assert seen == [(tenant,)], table
    with built.role("reader").connect() as conn:
        export_all(conn, tmp_path / "with", pdf=False, personal_data=True)
    with built.role("reader").connect() as conn:
        export_all(conn, tmp_path / "without", pdf=False, personal_data=False)
    assert "email" in _csv_headers(tmp_path / "with" / "csv")["rpt_customer_contacts"]
    assert "email" not in _csv_headers(tmp_path / "without" / "csv").get("rpt_customer_contacts", [])

    monkeypatch.setenv("INCLUDE_PERSONAL_DATA", "false")
    excluded = Warehouse(Settings()).as_role("transformer")
    _dbt(built, excluded, ["run", "--select", "dim_tenants"])
    with _admin(built) as conn:
        for table in ("marts.dim_revenue_customer_contacts", "reporting.rpt_customer_contacts"):
            assert conn.execute("select to_regclass(%s)", (table,)).fetchone()[0] is None, table


def test_the_tenant_connection_metabase_gets_pins_its_tenant(built: Granted) -> None:
    """The JDBC options `dashboards apply --tenant` gives Metabase, decoded as the Postgres JDBC driver decodes
    its URL parameters, make a session that sees that tenant only."""
    from urllib.parse import parse_qsl

    from dashboards.metabase.apply import tenant_jdbc_options

    ((name, options),) = parse_qsl(tenant_jdbc_options("ten_1"))
    assert name == "options"
    conninfo = psycopg.conninfo.make_conninfo(built.role("tenant").target.conninfo, options=options)
    with psycopg.connect(conninfo) as conn:
        seen = conn.execute("select distinct tenant_id from marts.fct_daily_metrics").fetchall()
    assert seen == [("ten_1",)]
