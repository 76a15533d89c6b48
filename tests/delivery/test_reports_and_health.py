"""The weekly board pack by email (aiosmtpd), pipeline health to the data channel, and the `alerts` commands."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import DAY, SECRET, SLACK_PATH, TODAY, DeliveryEnv
from dagster import AssetKey, AssetMaterialization, DagsterInstance, build_schedule_context, build_sensor_context

sys.path.insert(0, str(Path(__file__).parent.parent / "export"))

import marts_data  # noqa: E402

CHROMIUM = shutil.which("chromium")
MONDAY = datetime(2024, 4, 1, 8, 0, tzinfo=UTC)  # the Monday after the exporter fixture's last day, 2024-03-31
DATA_CHANNEL = {"data-team": {"type": "webhook", "url": "", "secret": "${TEST_WEBHOOK_SECRET}", "alerts": False}}


def pack_config(env: DeliveryEnv) -> None:
    env.standard_config(extra={"board_pack": {"to": ["board@example.com", "ceo@example.com"]}})


def run_board_pack(week_ending: str) -> Any:
    from orchestration.jobs import board_pack_job
    from orchestration.resources import WarehouseResource

    return board_pack_job.execute_in_process(
        run_config={"ops": {"send_weekly_board_pack": {"config": {"week_ending": week_ending}}}},
        resources={"warehouse": WarehouseResource()},
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def test_the_weekly_schedule_asks_for_last_week_and_skips_without_recipients(delivery_env: DeliveryEnv) -> None:
    from orchestration.schedules import board_pack_schedule

    delivery_env.standard_config()
    schedule = board_pack_schedule("Europe/Paris")
    assert schedule.cron_schedule == "0 8 * * 1" and schedule.execution_timezone == "Europe/Paris"
    skipped = schedule.evaluate_tick(build_schedule_context(scheduled_execution_time=MONDAY))
    assert not skipped.run_requests and "no board_pack recipients" in (skipped.skip_message or "")

    pack_config(delivery_env)
    [request] = schedule.evaluate_tick(build_schedule_context(scheduled_execution_time=MONDAY)).run_requests
    assert request.run_config["ops"]["send_weekly_board_pack"]["config"]["week_ending"] == "2024-03-31"
    assert request.run_key == "board-pack-2024-03-31"


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (apt-get install chromium)")
def test_the_board_pack_job_emails_the_pdf(delivery_env: DeliveryEnv) -> None:
    env = delivery_env
    pack_config(env)
    with env.conn() as conn:
        conn.execute("drop table marts.fct_metric_alerts")
        conn.execute("drop table marts.dim_tenants")
        marts_data.create_all(conn)
    result = run_board_pack("2024-03-31")
    assert result.success
    [mail] = env.mail.messages
    assert mail["X-Envelope-To"] == "board@example.com, ceo@example.com"
    assert "Board pack, week 25 Mar - 31 Mar 2024" in mail["Subject"]
    body = mail.get_body(("plain",)).get_content()
    assert "MRR: $123,457" in body and "Alerts raised during the week: 3" in body  # 03-28, 2 on 03-30
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "board-pack-2024-03-31.pdf"
    pdf = attachment.get_content()
    assert pdf[:5] == b"%PDF-"
    if shutil.which("pdfinfo"):
        with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
            handle.write(pdf)
            handle.flush()
            info = subprocess.run(["pdfinfo", handle.name], capture_output=True, text=True, check=True).stdout
        assert re.search(r"Pages:\s+6", info)
    with env.conn() as conn:
        assert conn.execute(
            "select attempt, outcome from audit.delivery_attempts where channel = 'board_pack'"
        ).fetchall() == [(1, "sent")]


def test_without_chromium_the_pack_goes_as_html(delivery_env: DeliveryEnv) -> None:
    env = delivery_env
    pack_config(env)
    env.env.setenv("CHROMIUM_PATH", str(env.root / "no-chromium-here"))
    with env.conn() as conn:
        marts_data.create_daily_metrics(conn)
    assert run_board_pack("2024-03-31").success
    [mail] = env.mail.messages
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_content_type() == "text/html" and "<!doctype html>" in attachment.get_content()
    assert "No Chromium on the sending host" in mail.get_body(("plain",)).get_content()


def test_a_failed_run_notifies_the_data_channel_once(delivery_env: DeliveryEnv) -> None:
    """A real failed run (the delivery job, Slack always failing), seen by the real run-failure sensor's ticks."""
    from orchestration.definitions import build_definitions

    env = delivery_env
    channels = {"data-team": {**DATA_CHANNEL["data-team"], "url": env.http.url("hooks/data", f"signed:{SECRET}")}}
    env.standard_config(slack="always_fail", channels=channels, extra={"pipeline_health": {"channel": "data-team"}})
    repo = build_definitions().get_repository_def()
    sensor = repo.get_sensor_def("pipeline_failure_sensor")
    instance = DagsterInstance.ephemeral()

    def tick(cursor: str | None) -> str | None:
        context = build_sensor_context(instance=instance, repository_def=repo, cursor=cursor)
        sensor.evaluate_tick(context)
        return context.cursor

    cursor = tick(None)  # the sensor's first tick starts from now
    failed = repo.get_job("alert_delivery_job").execute_in_process(
        instance=instance, partition_key=DAY.isoformat(), raise_on_error=False
    )
    assert not failed.success
    cursor = tick(cursor)
    tick(cursor)
    tick(cursor)  # the same failure seen again (a cursor not saved): still one message
    [message] = env.http.accepted("hooks/data")
    assert message.refused is None and message.json["event"] == "pipeline"
    assert message.json["title"] == f"Pipeline run failed: alert_delivery_job ({DAY})"
    assert "Failing step: alerts__alert_deliveries" in message.json["text"]
    assert "could not be delivered" in message.json["text"]
    assert message.json["link"] == f"http://dagster.example.com/runs/{failed.run_id}"
    assert message.json["data"]["failing step"] == "alerts__alert_deliveries"
    assert not env.http.accepted("hooks/alerts") or all(
        h.json["event"] == "alert.fired" for h in env.http.accepted("hooks/alerts")
    ), "the data channel is a separate receiver path"
    assert env.http.all(SLACK_PATH), "the failing channel was tried"


def test_late_daily_marts_notify_the_data_channel_once_per_day(delivery_env: DeliveryEnv) -> None:
    from orchestration.sensors import late_marts_incident, notify_incident

    env = delivery_env
    channels = {"data-team": {**DATA_CHANNEL["data-team"], "url": env.http.url("hooks/data", f"signed:{SECRET}")}}
    env.standard_config(channels=channels, extra={"pipeline_health": {"channel": "data-team"}})
    instance = DagsterInstance.ephemeral()
    before = datetime.combine(TODAY, time(3, 59), tzinfo=UTC)
    assert late_marts_incident(instance, before, "UTC", 4, "http://d") is None, "not due yet"
    after = datetime.combine(TODAY, time(4, 5), tzinfo=UTC)
    incident = late_marts_incident(instance, after, "UTC", 4, "http://d")
    assert incident is not None and incident.key == f"marts-late:{DAY}"
    assert notify_incident(incident) == f"marts-late:{DAY}: notified data-team"
    assert "already notified" in notify_incident(
        late_marts_incident(instance, after + timedelta(hours=1), "UTC", 4, "x")
    )
    [message] = env.http.accepted("hooks/data")
    assert message.json["title"] == f"Daily marts for {DAY} are late"
    assert "no run of that day yet" in message.json["text"]

    instance.report_runless_asset_event(
        AssetMaterialization(asset_key=AssetKey(["marts", "fct_daily_metrics"]), partition=DAY.isoformat())
    )
    assert late_marts_incident(instance, after, "UTC", 4, "http://d") is None, "built: not late"


def test_alerts_commands(delivery_env: DeliveryEnv) -> None:
    from typer.testing import CliRunner

    from orchestration.cli import app

    env = delivery_env
    env.standard_config()
    runner = CliRunner()
    result = runner.invoke(app, ["alerts", "test", "--channel", "product-slack"])
    assert result.exit_code == 0, result.output
    assert "product-slack: test message delivered (HTTP 200)" in result.output
    [test_message] = env.http.accepted(SLACK_PATH)
    assert test_message.json["blocks"][0]["text"]["text"] == "Test message for channel product-slack"

    missing = runner.invoke(app, ["alerts", "test", "--channel", "pager"])
    assert missing.exit_code == 1 and "Traceback" not in missing.output
    assert "error: no channel 'pager' in the channels file" in " ".join(missing.output.split())

    env.http.behaviour["/" + SLACK_PATH] = "always_fail"
    down = runner.invoke(app, ["alerts", "test", "--channel", "product-slack"])
    assert down.exit_code == 1 and "not delivered after 3 tries" in " ".join(down.output.split())

    env.http.behaviour["/" + SLACK_PATH] = "ok"
    assert runner.invoke(app, ["backfill", "--help"]).output.count("--deliver-historical") == 1
    from dagster import materialize

    from orchestration.assets import delivery_asset  # deliver DAY, then list
    from orchestration.resources import WarehouseResource

    assert materialize(
        [delivery_asset()], partition_key=DAY.isoformat(), resources={"warehouse": WarehouseResource()}
    ).success
    listed = runner.invoke(
        app, ["alerts", "list", "--since", (DAY - timedelta(days=60)).isoformat()], env={"COLUMNS": "250"}
    )
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert "4 alert(s) since" in listed.output
    t1 = next(line for line in lines if str(DAY) in line and "jobs_success_rate" in line)
    assert "leadership-email: sent" in t1 and "ops-webhook: sent" in t1 and "product-slack: sent" in t1
    old = next(line for line in lines if "jobs_success_rate" in line and str(DAY) not in line)
    assert "not delivered" in old
