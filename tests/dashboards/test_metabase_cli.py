"""`execmetrics dashboards validate | list | apply` (the typer sub-app), against the in-memory Metabase."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from dashboards.metabase import cli as dashboards_cli
from dashboards.metabase.cli import dashboards_app
from dashboards.metabase.config import MetabaseSettings

runner = CliRunner()


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    for name in ("METABASE_URL", "METABASE_USER", "METABASE_PASSWORD", "METABASE_API_KEY", "METABASE_WAREHOUSE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WAREHOUSE_URL", "postgresql://reader:wh-secret@db.internal:5433/execmetrics")
    from extract.settings import reset_settings

    reset_settings()
    yield
    reset_settings()


def test_validate_and_list():
    result = runner.invoke(dashboards_app, ["validate"])
    assert result.exit_code == 0, result.output
    assert "6 dashboards" in result.output
    result = runner.invoke(dashboards_app, ["list"], env={"COLUMNS": "220"})
    assert result.exit_code == 0, result.output
    assert "Executive overview" in result.output and "Conversion funnel" in result.output


def test_apply_needs_metabase():
    result = runner.invoke(dashboards_app, ["apply"])
    assert result.exit_code == 1
    assert "METABASE_URL" in result.output


def test_offline_dry_run_prints_the_plan():
    result = runner.invoke(dashboards_app, ["apply", "--dry-run", "--only", "operations"])
    assert result.exit_code == 0, result.output
    assert "would create  dashboard  Operations" in result.output
    assert "db.internal" in result.output and "wh-secret" not in result.output


def test_apply_twice_against_metabase(monkeypatch, fake):
    monkeypatch.setenv("METABASE_URL", "http://metabase.test")
    monkeypatch.setenv("METABASE_API_KEY", fake.api_key)
    real_client = MetabaseSettings.client
    monkeypatch.setattr(MetabaseSettings, "client", lambda self, transport=None: real_client(self, fake.transport))
    first = runner.invoke(dashboards_app, ["apply"])
    assert first.exit_code == 0, first.output
    assert "created       dashboard  Billing health" in first.output
    assert fake.databases[2]["details"]["host"] == "db.internal"
    second = runner.invoke(dashboards_app, ["apply"])
    assert second.exit_code == 0, second.output
    assert "0 created, 0 updated" in second.output
    assert "wh-secret" not in first.output + second.output


def test_unknown_dashboard_fails():
    result = runner.invoke(dashboards_app, ["apply", "--dry-run", "--only", "nope"])
    assert result.exit_code == 1 and "no dashboard spec named nope" in result.output


def test_cli_module_exposes_the_sub_app():
    assert dashboards_cli.dashboards_app is dashboards_app
