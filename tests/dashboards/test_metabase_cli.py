"""`execmetrics dashboards validate | list | apply` (through the top-level command), against the in-memory Metabase."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from dashboards.metabase import cli as dashboards_cli
from dashboards.metabase.cli import dashboards_app
from dashboards.metabase.config import MetabaseSettings
from orchestration.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    for name in ("METABASE_URL", "METABASE_USER", "METABASE_PASSWORD", "METABASE_API_KEY", "METABASE_WAREHOUSE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WAREHOUSE_URL", "postgresql://owner:owner-secret@db.internal:5433/execmetrics")
    monkeypatch.setenv("WAREHOUSE_READER_PASSWORD", "wh-secret")

    yield


def test_validate_and_list():
    result = runner.invoke(app, ["dashboards", "validate"])
    assert result.exit_code == 0, result.output
    assert "6 dashboards" in result.output
    result = runner.invoke(app, ["dashboards", "list"], env={"COLUMNS": "220"})
    assert result.exit_code == 0, result.output
    assert "Executive overview" in result.output and "Conversion funnel" in result.output


def test_apply_needs_metabase():
    result = runner.invoke(app, ["dashboards", "apply"])
    assert result.exit_code == 1
    assert "METABASE_URL" in result.output


def test_offline_dry_run_prints_the_plan():
    result = runner.invoke(app, ["dashboards", "apply", "--dry-run", "--only", "operations"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "would create  dashboard  Operations" in result.output
    assert "would create  group      Executives" in result.output
    # Metabase gets the reader role, never the owner of WAREHOUSE_URL
    assert "postgres://execmetrics_reader:***@db.internal:5433/execmetrics" in result.output
    assert "wh-secret" not in result.output and "owner" not in result.output
    assert "warning" not in result.output


def test_metabase_needs_the_reader_role(monkeypatch):
    monkeypatch.delenv("WAREHOUSE_READER_PASSWORD")
    result = runner.invoke(app, ["dashboards", "apply", "--dry-run"])
    assert result.exit_code == 1 and "reader role" in result.output and "warehouse grant" in result.output
    # an explicit connection as another user works, with a warning
    monkeypatch.setenv("METABASE_WAREHOUSE_URL", "postgresql://owner:owner-secret@warehouse:5432/execmetrics")
    result = runner.invoke(app, ["dashboards", "apply", "--dry-run"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "warning: Metabase connects as owner, not the read-only role" in result.output


def test_apply_twice_against_metabase_is_audited(monkeypatch, fake, granted_warehouse):
    from extract import audit

    monkeypatch.setenv("METABASE_URL", "http://metabase.test")
    monkeypatch.setenv("METABASE_API_KEY", fake.api_key)
    monkeypatch.setenv("EXECMETRICS_ACTOR", "ops@example.com")
    real_client = MetabaseSettings.client
    monkeypatch.setattr(MetabaseSettings, "client", lambda self, transport=None: real_client(self, fake.transport))
    first = runner.invoke(app, ["dashboards", "apply"], env={"COLUMNS": "200"})
    assert first.exit_code == 0, first.output
    assert "created       dashboard  Billing health" in first.output
    reader = granted_warehouse.as_role("reader").target
    assert fake.databases[2]["details"]["user"] == reader.user and fake.databases[2]["details"]["password"]
    second = runner.invoke(app, ["dashboards", "apply"])
    assert second.exit_code == 0, second.output
    assert "0 created, 0 updated" in second.output
    assert reader.password not in first.output + second.output
    with granted_warehouse.connect() as conn:
        applied = audit.events(conn, action="dashboards")
    assert [(e.action, e.actor, e.db_role, e.outcome) for e in applied] == [
        ("dashboards.apply", "ops@example.com", reader.user, "success")
    ] * 2
    assert applied[0].row_counts["create"] > 20 and applied[1].row_counts["create"] == 0
    assert applied[0].target == "http://metabase.test" and reader.password not in str(applied[0].parameters)


def test_a_failed_apply_is_audited_as_a_failure(monkeypatch, fake, granted_warehouse):
    from extract import audit

    monkeypatch.setenv("METABASE_URL", "http://metabase.test")
    monkeypatch.setenv("METABASE_API_KEY", "wrong-key")
    real_client = MetabaseSettings.client
    monkeypatch.setattr(MetabaseSettings, "client", lambda self, transport=None: real_client(self, fake.transport))
    result = runner.invoke(app, ["dashboards", "apply"])
    assert result.exit_code == 1 and "401" in result.output
    with granted_warehouse.connect() as conn:
        (event,) = audit.events(conn, action="dashboards.apply")
    assert event.outcome == "failure" and "401" in event.detail


def test_unknown_dashboard_fails():
    result = runner.invoke(app, ["dashboards", "apply", "--dry-run", "--only", "nope"])
    assert result.exit_code == 1 and "no dashboard spec named nope" in result.output


def test_cli_module_exposes_the_sub_app():
    assert dashboards_cli.dashboards_app is dashboards_app


def test_offline_dry_run_for_one_tenant(monkeypatch):
    monkeypatch.setenv("WAREHOUSE_TENANT_PASSWORD", "tenant-secret")
    result = runner.invoke(app, ["dashboards", "apply", "--dry-run", "--tenant", "ten_3"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "would create  collection execmetrics (tenant ten_3)" in result.output
    assert "execmetrics warehouse (tenant ten_3)" in result.output
    assert "postgres://execmetrics_tenant:***@db.internal:5433/execmetrics" in result.output
    assert "tenant-secret" not in result.output
    refused = runner.invoke(app, ["dashboards", "apply", "--dry-run", "--tenant", "__all__"])
    assert refused.exit_code == 1 and "not a tenant id" in refused.output
