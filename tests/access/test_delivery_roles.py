"""The alert delivery under the warehouse roles: the Dagster asset connects as the transformer (it reads the alerts,
owns its once-per-channel state in `audit`, appends each try to the audit log); `execmetrics alerts list` reads as
the reader; the grant keeps all of it."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import yaml  # type: ignore[import-untyped]
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "delivery"))

from receivers import start_http_receiver  # noqa: E402

from extract.access import grant, role_name  # noqa: E402
from extract.settings import load_settings  # noqa: E402
from extract.warehouse import Warehouse  # noqa: E402

DAY = datetime.now(UTC).date() - timedelta(days=1)
SECRET = "whsec_roles"


def test_the_delivery_runs_as_the_transformer_and_the_reader_lists_it(
    granted_warehouse: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster import DagsterInstance, materialize
    from delivery_helpers import delivery_asset, delivery_resources

    receiver = start_http_receiver()
    try:
        channels = {"ops": {"type": "webhook", "url": receiver.url("hooks", f"signed:{SECRET}"), "secret": "${S}"}}
        config = tmp_path / "alerts.yml"
        config.write_text(yaml.safe_dump({"version": 1, "channels": channels}))
        monkeypatch.setenv("ALERTS_CONFIG", str(config))
        monkeypatch.setenv("S", SECRET)
        monkeypatch.setenv("PARTITIONS_START_DATE", (DAY - timedelta(days=5)).isoformat())
        settings = load_settings()
        transformer, reader = (role_name(settings, part) for part in ("transformer", "reader"))

        # the alerts as dbt builds them: owned by the transformer, secured by the post-hook every model runs
        with granted_warehouse.as_role("transformer").connect(autocommit=True) as conn:
            conn.execute(
                """create table reporting.rpt_alerts as select %s::date as metric_date, 'ten_1'::text as tenant_id,
                       'Acme Corp'::text as tenant_name, 'jobs_success_rate'::text as metric, 'threshold'::text as rule,
                       'jobs_success_rate_critical'::text as rule_id, 'critical'::text as severity,
                       0.5::numeric as metric_value, 0.8::numeric as expected_value, null::numeric as z_score,
                       'Job success rate below 80%% for Acme Corp'::text as message""",
                (DAY,),
            )
            conn.execute("select access.after_build('reporting', 'rpt_alerts')")

        run = materialize(
            [delivery_asset()],
            partition_key=DAY.isoformat(),
            resources=delivery_resources(),
            instance=DagsterInstance.ephemeral(),
        )
        assert run.success
        [message] = receiver.accepted("hooks")
        assert message.refused is None and message.json["data"]["tenant_name"] == "Acme Corp"

        with granted_warehouse.connect(autocommit=True) as conn:
            owners = dict(
                conn.execute(
                    """select c.relname, pg_get_userbyid(c.relowner) from pg_class c
                       join pg_namespace n on n.oid = c.relnamespace
                       where n.nspname = 'audit' and c.relname in ('alert_deliveries', 'pipeline_notifications')"""
                ).fetchall()
            )
            tries = conn.execute(
                "select db_role, target, outcome from audit.events where action = 'delivery.alert'"
            ).fetchall()
        assert owners == {"alert_deliveries": transformer, "pipeline_notifications": transformer}
        assert tries == [(transformer, "ops", "success")]

        # the reader reads the state, and changes nothing
        with granted_warehouse.as_role("reader").connect(autocommit=True) as conn:
            assert conn.execute("select status from audit.alert_deliveries").fetchall() == [("sent",)]
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("delete from audit.alert_deliveries")
        from orchestration.cli import app

        listed = CliRunner().invoke(app, ["alerts", "list", "--since", str(DAY)], env={"COLUMNS": "200"})
        assert listed.exit_code == 0, listed.output
        assert "Acme Corp" in listed.output and "ops: sent" in listed.output
        # it connects as the reader: without the reader's right on the state it fails (one error line)
        with granted_warehouse.connect(autocommit=True) as conn:
            conn.execute(f'revoke select on audit.alert_deliveries from "{reader}"')
        refused = CliRunner().invoke(app, ["alerts", "list", "--since", str(DAY)])
        assert refused.exit_code == 1 and "permission denied for table alert_deliveries" in refused.output

        # a grant gives it back, and keeps the owner
        grant(granted_warehouse)
        with granted_warehouse.as_role("reader").connect(autocommit=True) as conn:
            assert conn.execute("select count(*) from audit.alert_deliveries").fetchone() == (1,)
        with granted_warehouse.connect(autocommit=True) as conn:
            owner = conn.execute("select pg_get_userbyid(relowner) from pg_class where relname = 'alert_deliveries'")
            assert owner.fetchone() == (transformer,)
    finally:
        receiver.server.shutdown()
