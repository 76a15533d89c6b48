"""The audit log's API, its append-only rule, `execmetrics audit`, and the roles on the embedded warehouse."""

from __future__ import annotations

import json
import os
import socket
import stat
from datetime import date, timedelta

import psycopg
import pytest
from typer.testing import CliRunner

from extract import audit
from extract.access import PARTS, credentials_path, role_name
from extract.settings import Settings
from extract.warehouse import Warehouse
from orchestration.cli import app
from tests.conftest import remove_warehouse, throwaway_database

runner = CliRunner()


def test_record_and_recorded(granted_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXECMETRICS_ACTOR", "alice@example.com")
    loader = Warehouse(Settings()).as_role("loader")
    first = audit.record(loader, "alert.delivery", target="slack #exec", parameters={"rule": "mrr_drop"})
    with audit.recorded(loader, "export", target="/tmp/x", parameters={"tenant": "t1"}) as event:
        event.row_counts = {"fct_daily_metrics": 12}
    with pytest.raises(ZeroDivisionError), audit.recorded(loader, "export", target="/tmp/y"):
        1 / 0  # noqa: B018
    with granted_warehouse.connect() as conn:
        events = audit.events(conn)
    mine = [e for e in events if e.event_id >= first]
    assert [(e.action, e.target, e.outcome) for e in mine] == [
        ("alert.delivery", "slack #exec", "success"),
        ("export", "/tmp/x", "success"),
        ("export", "/tmp/y", "failure"),
    ]
    assert {e.actor for e in mine} == {"alice@example.com"}
    assert {e.db_role for e in mine} == {loader.target.user}
    assert mine[0].parameters == {"rule": "mrr_drop"} and mine[1].row_counts == {"fct_daily_metrics": 12}
    assert mine[2].detail == "ZeroDivisionError: division by zero"
    with pytest.raises(ValueError):
        audit.record(loader, "export", outcome="maybe")


def test_nobody_changes_the_log_not_even_its_owner(granted_warehouse: Warehouse) -> None:
    audit.record(granted_warehouse, "export", target="somewhere")
    for who in ("reader", "transformer", "loader", "tenant"):
        with granted_warehouse.as_role(who).connect(autocommit=True) as conn:
            for statement in (
                "update audit.events set actor = 'nobody'",
                "delete from audit.events",
                "truncate audit.events",
                "insert into audit.events (actor, action, outcome) values ('me', 'forged', 'success')",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)
    with granted_warehouse.connect(autocommit=True) as conn:  # the owner, a superuser: the trigger refuses
        for statement in ("update audit.events set actor = 'nobody'", "delete from audit.events"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(statement)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute("truncate audit.events")
        assert conn.execute("select count(*) from audit.events where action = 'export'").fetchone()[0] == 1
    with granted_warehouse.as_role("reader").connect() as conn:  # the reader reads it
        assert [e.target for e in audit.events(conn, action="export")] == ["somewhere"]
    with granted_warehouse.as_role("tenant").connect() as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        audit.events(conn)


def test_a_one_user_warehouse_gets_its_log_on_first_use(warehouse: Warehouse) -> None:
    with warehouse.connect() as conn:
        conn.execute("drop schema audit cascade")
        conn.commit()
    audit.record(warehouse, "export", target="x")
    with warehouse.connect() as conn:
        assert [e.action for e in audit.events(conn)] == ["export"]


def test_audit_command_filters_and_prints(granted_warehouse: Warehouse) -> None:
    audit.record(granted_warehouse, "dashboards.apply", target="http://mb", row_counts={"create": 3})
    audit.record(granted_warehouse, "export", target="/out", parameters={"tenant": "t1"})
    audit.record(granted_warehouse, "dashboards.applied_elsewhere", outcome="failure", detail="boom")
    result = runner.invoke(app, ["audit", "--action", "dashboards"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "dashboards.apply" in result.output and "create 3" in result.output
    assert "dashboards.applied_elsewhere" in result.output and "failure: boom" in result.output
    assert "/out" not in result.output  # an area is the part before the dot: export is not in it
    exact = runner.invoke(app, ["audit", "--action", "dashboards.apply"], env={"COLUMNS": "250"})
    assert "dashboards.apply " in exact.output and "dashboards.applied_elsewhere" not in exact.output
    result = runner.invoke(app, ["audit", "--json", "--action", "export"])
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [(e["action"], e["parameters"]) for e in lines] == [("export", {"tenant": "t1"})]
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    result = runner.invoke(app, ["audit", "--since", tomorrow])
    assert result.exit_code == 0 and "no events since" in result.output
    everything = runner.invoke(app, ["audit", "--json", "--limit", "0"])
    assert {json.loads(line)["action"] for line in everything.output.splitlines()} >= {
        "warehouse.grant",
        "dashboards.apply",
        "export",
        "dashboards.applied_elsewhere",
    }


def test_grant_on_an_external_warehouse_needs_the_passwords(warehouse: Warehouse, monkeypatch) -> None:  # noqa: ANN001
    for part in PARTS:
        monkeypatch.delenv(f"WAREHOUSE_{part.upper()}_PASSWORD", raising=False)
    monkeypatch.setenv("WAREHOUSE_READER_PASSWORD", "only-this-one")
    result = runner.invoke(app, ["warehouse", "grant"])
    assert result.exit_code == 1
    assert result.output.startswith("error:") and "WAREHOUSE_LOADER_PASSWORD" in result.output
    assert "only-this-one" not in result.output and "WAREHOUSE_READER_PASSWORD" not in result.output
    with warehouse.connect() as conn:  # the refusal is in the log too
        (event,) = audit.events(conn, action="warehouse.grant")
    assert event.outcome == "failure" and "WAREHOUSE_LOADER_PASSWORD" in event.detail


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_embedded_warehouse_has_its_roles_from_the_first_start(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """No settings at all: the first start makes the roles, generates their passwords and keeps them (0600);
    every role but the superuser needs its password; --rotate renews them."""
    base = tmp_path / "embedded"
    base.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(base, 0o777)
    for name in ("WAREHOUSE_URL", *(f"WAREHOUSE_{p.upper()}_PASSWORD" for p in PARTS), "WAREHOUSE_ROLE_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WAREHOUSE_DIR", str(base))
    monkeypatch.setenv("WAREHOUSE_PORT", str(_free_port()))
    settings = Settings()
    wh = Warehouse(settings)
    try:
        result = runner.invoke(app, ["warehouse", "start"])
        assert result.exit_code == 0, result.output
        path = credentials_path(settings)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        stored = json.loads(path.read_text())["passwords"]
        assert sorted(stored) == sorted(PARTS)
        for part in PARTS:
            target = wh.as_role(part).target
            assert target.user == role_name(settings, part) and target.password == stored[part]
            with psycopg.connect(target.conninfo) as conn:
                assert conn.execute("select current_user").fetchone()[0] == target.user
            with pytest.raises(psycopg.OperationalError):
                psycopg.connect(psycopg.conninfo.make_conninfo(target.conninfo, password="guess"))
        status = runner.invoke(app, ["warehouse", "status"], env={"COLUMNS": "200"})
        assert "roles: loader execmetrics_loader" in status.output
        url = runner.invoke(app, ["warehouse", "url", "--role", "reader"])
        assert url.output.strip().startswith("postgresql://execmetrics_reader:***@127.0.0.1:")
        env = runner.invoke(app, ["warehouse", "env"])
        assert "export WAREHOUSE_USER=execmetrics_transformer" in env.output
        assert f"export WAREHOUSE_PASSWORD={stored['transformer']}" in env.output

        rotated = runner.invoke(app, ["warehouse", "grant", "--rotate"])
        assert rotated.exit_code == 0, rotated.output
        renewed = json.loads(path.read_text())["passwords"]
        assert all(renewed[part] != stored[part] for part in PARTS)
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(
                psycopg.conninfo.make_conninfo(wh.as_role("reader").target.conninfo, password=stored["reader"])
            )
        with Warehouse(Settings()).as_role("reader").connect() as conn:
            grants = audit.events(conn, action="warehouse.grant")
        assert [e.parameters["rotate"] for e in grants] == [False, True]
    finally:
        if wh.embedded is not None:
            wh.embedded.stop()
            remove_warehouse(wh.embedded)  # as root its data lives outside tmp_path: nothing else removes it


def test_grant_by_a_database_owner_that_is_not_a_superuser(pg_server, tmp_path) -> None:  # noqa: ANN001
    """An external warehouse's owner is often not a superuser (a managed Postgres' master user): it may create roles
    and owns the database; the grant works, twice, and leaves no superuser power anywhere."""
    import secrets

    from extract.access import grant

    suffix = secrets.token_hex(4)
    owner, database, prefix = f"owner_{suffix}", f"owned_{suffix}", f"o{suffix}"
    with psycopg.connect(pg_server.with_db("postgres").conninfo, autocommit=True) as conn:
        conn.execute(f"create role {owner} login createrole password 'owner-pw'")
    passwords = {f"warehouse_{part}_password": secrets.token_hex(8) for part in PARTS}
    settings = Settings(
        warehouse_url=f"postgresql://{owner}:owner-pw@{pg_server.host}:{pg_server.port}/{database}",
        warehouse_dir=tmp_path,
        warehouse_role_prefix=prefix,
        **passwords,
    )
    try:
        with throwaway_database(pg_server, database, f"owner {owner}"):
            first = grant(Warehouse(settings))
            second = grant(Warehouse(settings))
            assert len(first.created_roles) == 4 and second.created_roles == []
            with Warehouse(settings).as_role("loader").connect() as conn:
                assert conn.execute("select count(*) from raw.app_events").fetchone()[0] == 0
            with psycopg.connect(pg_server.with_db("postgres").conninfo) as conn:
                powers = conn.execute(
                    "select rolname from pg_roles where rolname like %s"
                    " and (rolsuper or rolcreaterole or rolcreatedb or rolbypassrls)",
                    (prefix + "_%",),
                ).fetchall()
            assert powers == []
    finally:
        with psycopg.connect(pg_server.with_db("postgres").conninfo, autocommit=True) as conn:
            for part in PARTS:
                conn.execute(f'drop role if exists "{prefix}_{part}"')
            conn.execute(f"drop role if exists {owner}")


def test_the_demo_reset_keeps_the_audit_log(granted_warehouse: Warehouse) -> None:
    from orchestration.demo import reset_warehouse

    audit.record(granted_warehouse, "export", target="before the reset")
    reset_warehouse(granted_warehouse)
    with granted_warehouse.connect() as conn:
        actions = [(e.action, e.target) for e in audit.events(conn)]
        assert conn.execute("select to_regclass('marts.dim_tenants')").fetchone()[0] is None
    assert ("export", "before the reset") in actions
    assert actions[-1] == ("warehouse.reset", granted_warehouse.target.dbname)
