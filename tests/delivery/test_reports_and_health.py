"""The weekly board pack by email (aiosmtpd), pipeline health to the data channel through real sensor ticks, and the
`alerts` commands (one `error:` line for every failure)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from dagster import AssetKey, AssetMaterialization, DagsterInstance, build_schedule_context, build_sensor_context
from delivery_helpers import DAY, SECRET, SLACK_PATH, DeliveryEnv, attempts
from typer.testing import CliRunner

from dashboards.export.formatting import fmt_money
from extract.settings import load_settings

CHROMIUM = shutil.which("chromium")
MONDAY = datetime(2024, 4, 1, 8, 0, tzinfo=UTC)
DATA_CHANNEL = {"data-team": {"type": "webhook", "url": "", "secret": "${TEST_WEBHOOK_SECRET}", "alerts": False}}


def data_channel(env: DeliveryEnv, **config: Any) -> None:
    """The standard channels plus `data-team`, a signed webhook that gets pipeline health only."""
    channels = {"data-team": {**DATA_CHANNEL["data-team"], "url": env.http.url("hooks/data", f"signed:{SECRET}")}}
    env.standard_config(channels=channels, extra={"pipeline_health": {"channel": "data-team"}}, **config)


def repository() -> Any:
    """The code location's delivery parts: the delivery asset, its job, the board pack job and the sensors (the dbt
    assets, whose manifest is parsed once per warehouse database, are not needed here)."""
    from dagster import Definitions
    from delivery_helpers import delivery_asset, delivery_resources

    from orchestration.jobs import board_pack_job, delivery_job
    from orchestration.sensors import sensors_definitions

    parts = Definitions(
        assets=[delivery_asset()], jobs=[delivery_job(), board_pack_job], resources=delivery_resources()
    )
    return Definitions.merge(parts, sensors_definitions(load_settings())).get_repository_def()


# ------------------------------------------------------------------------------------------------ the board pack


def test_the_weekly_schedule_asks_for_last_week_and_skips_without_recipients(delivery_env: DeliveryEnv) -> None:
    from orchestration.schedules import board_pack_schedule

    delivery_env.standard_config()
    schedule = board_pack_schedule("Europe/Paris", "0 8 * * 1", delivery_env.config_path)
    assert schedule.cron_schedule == "0 8 * * 1" and schedule.execution_timezone == "Europe/Paris"
    skipped = schedule.evaluate_tick(build_schedule_context(scheduled_execution_time=MONDAY))
    assert not skipped.run_requests and "no board_pack recipients" in (skipped.skip_message or "")

    delivery_env.standard_config(extra={"board_pack": {"to": ["board@example.com"]}})
    [request] = schedule.evaluate_tick(build_schedule_context(scheduled_execution_time=MONDAY)).run_requests
    assert request.run_config["ops"]["send_weekly_board_pack"]["config"]["week_ending"] == "2024-03-31"
    assert request.run_key == "board-pack-2024-03-31"


@pytest.fixture
def pack_env(delivery_env: DeliveryEnv, demo_warehouse: Any) -> Iterator[tuple[DeliveryEnv, date]]:
    """The channels file with board_pack recipients, on the demo warehouse (the reporting layer built by dbt); the
    week is the last complete one of the demo's data."""
    env = delivery_env
    env.env.setenv("WAREHOUSE_URL", demo_warehouse.target.url.replace("+psycopg", ""))
    env.standard_config(extra={"board_pack": {"to": ["board@example.com", "ceo@example.com"]}})
    end = demo_warehouse.end
    yield env, end - timedelta(days=(end.weekday() + 1) % 7)  # the last Sunday on or before the last day


def run_board_pack(week_ending: date, instance: DagsterInstance | None = None) -> Any:
    job = repository().get_job("board_pack_job")
    return job.execute_in_process(
        run_config={"ops": {"send_weekly_board_pack": {"config": {"week_ending": week_ending.isoformat()}}}},
        instance=instance or DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def check_pack_mail(env: DeliveryEnv, demo_warehouse: Any, week_end: date, suffix: str) -> Any:
    [mail] = env.mail.messages
    assert mail["X-Envelope-To"] == "board@example.com, ceo@example.com"
    week_start = week_end - timedelta(days=6)
    assert f"Board pack, week {week_start:%d %b} - {week_end:%d %b %Y}" in mail["Subject"]
    body = mail.get_body(("plain",)).get_content()
    with demo_warehouse.connect() as conn:
        [(mrr,)] = conn.execute(
            """select mrr from reporting.rpt_kpi_periods where grain = 'month' and tenant_id = '__all__'
               and period_start <= %s order by period_start desc limit 1""",
            (week_end,),
        ).fetchall()
        [(alerts,)] = conn.execute(
            "select count(*) from reporting.rpt_alerts where metric_date between %s and %s", (week_start, week_end)
        ).fetchall()
        exports = conn.execute(
            "select target, outcome from audit.events where action = 'export' order by event_id desc limit 1"
        ).fetchall()
        tries = conn.execute(
            """select target, outcome, parameters->>'attachment' from audit.events
               where action = 'delivery.board_pack' order by event_id desc limit 1"""
        ).fetchall()
    assert f"MRR: {fmt_money(float(mrr), 'USD')}" in body, body
    assert f"Alerts raised during the week: {alerts}" in body and "Dashboards: https://metabase.example.com/" in body
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == f"board-pack-{week_end}{suffix}"
    # the export is the audited `execmetrics export` (run_export), and the email's try is in the audit log too
    assert exports[0][0].endswith(f"board_pack/{week_end}") and exports[0][1] == "success"
    assert tries == [("board_pack", "success", f"board-pack-{week_end}{suffix}")]
    return attachment


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (apt-get install chromium)")
def test_the_board_pack_job_emails_the_pdf(pack_env: tuple[DeliveryEnv, date], demo_warehouse: Any) -> None:
    env, week_end = pack_env
    assert run_board_pack(week_end).success
    attachment = check_pack_mail(env, demo_warehouse, week_end, ".pdf")
    assert attachment.get_content_type() == "application/pdf"
    pdf = attachment.get_content()
    assert pdf[:5] == b"%PDF-"
    if shutil.which("pdfinfo"):
        with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
            handle.write(pdf)
            handle.flush()
            info = subprocess.run(["pdfinfo", handle.name], capture_output=True, text=True, check=True).stdout
        from dashboards.export import PAGE_COUNT

        assert re.search(rf"Pages:\s+{PAGE_COUNT}\b", info), info


@pytest.mark.slow
def test_without_chromium_the_pack_goes_as_html(pack_env: tuple[DeliveryEnv, date], demo_warehouse: Any) -> None:
    env, week_end = pack_env
    env.env.setenv("CHROMIUM_PATH", str(env.root / "no-chromium-here"))
    instance = DagsterInstance.ephemeral()
    result = run_board_pack(week_end, instance)
    assert result.success
    attachment = check_pack_mail(env, demo_warehouse, week_end, ".html")
    assert attachment.get_content_type() == "text/html" and "<!doctype html>" in attachment.get_content().lower()
    assert "No Chromium on the sending host" in env.mail.messages[0].get_body(("plain",)).get_content()
    logged = [entry.user_message for entry in instance.all_logs(result.run_id) if "PDF skipped" in entry.user_message]
    assert len(logged) == 1 and "CHROMIUM_PATH" in logged[0], "the run says why there is no PDF and how to get one"


# ------------------------------------------------------------------------------------------------ pipeline health


def failure_sensor_ticks(repo: Any, instance: DagsterInstance) -> Any:
    sensor = repo.get_sensor_def("pipeline_failure_sensor")

    def tick(cursor: str | None) -> str | None:
        context = build_sensor_context(instance=instance, repository_def=repo, cursor=cursor)
        sensor.evaluate_tick(context)
        return context.cursor

    return tick


def test_a_failed_run_notifies_the_data_channel_once(delivery_env: DeliveryEnv) -> None:
    """A real failed run (the delivery job, Slack always failing), seen by the real run-failure sensor's ticks."""
    env = delivery_env
    data_channel(env, slack="always_fail")
    repo = repository()
    instance = DagsterInstance.ephemeral()
    tick = failure_sensor_ticks(repo, instance)
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
    assert env.http.all(SLACK_PATH), "the failing channel was tried"
    assert attempts(env, "data-team") == [(1, "sent")]


def local_zone_past(hour: int) -> str:
    """A fixed-offset zone whose local time now is past `hour` o'clock and before 23:00 (a deterministic tick)."""
    for offset in range(-12, 13):
        zone = f"Etc/GMT{'+' if offset <= 0 else '-'}{abs(offset)}"  # Etc/GMT-2 is UTC+2
        local = datetime.now(UTC) + timedelta(hours=offset)
        if hour + 1 <= local.hour <= 21:
            return zone
    raise AssertionError("no zone fits")


def test_late_daily_marts_notify_the_data_channel_once_per_day(delivery_env: DeliveryEnv) -> None:
    """Real ticks of marts_late_sensor: past MARTS_DUE_BY without yesterday's partition of the daily marts, one
    message; a tick later, none; once the partition is built, the sensor is quiet."""
    from orchestration.partitions import previous_day

    env = delivery_env
    zone = local_zone_past(1)
    env.env.setenv("REPORTING_TIMEZONE", zone)
    env.env.setenv("MARTS_DUE_BY", "1")
    data_channel(env)
    repo = repository()
    sensor = repo.get_sensor_def("marts_late_sensor")
    instance = DagsterInstance.ephemeral()
    yesterday = previous_day(datetime.now(UTC), zone)

    def tick() -> str:
        result = sensor.evaluate_tick(build_sensor_context(instance=instance, repository_def=repo))
        assert not result.run_requests
        return result.skip_message or ""

    assert tick() == f"marts-late:{yesterday}: notified data-team"
    assert tick() == f"marts-late:{yesterday}: already notified on data-team"
    [message] = env.http.accepted("hooks/data")
    assert message.json["title"] == f"Daily marts for {yesterday} are late"
    assert "no run of that day yet" in message.json["text"] and "(due by 01:00)" in message.json["text"]

    instance.report_runless_asset_event(
        AssetMaterialization(asset_key=AssetKey(["marts", "fct_daily_metrics"]), partition=yesterday.isoformat())
    )
    assert "built, or not due yet" in tick()
    assert len(env.http.accepted("hooks/data")) == 1


def test_held_alerts_are_sent_by_the_sensors_run_once_quiet_hours_end(delivery_env: DeliveryEnv) -> None:
    """Alerts held in the email channel's quiet hours (a delivery during them), then a real tick of
    held_alerts_sensor outside them asks for alert_delivery_job on that day, and that run sends them."""
    from dashboards.delivery.config import load_config
    from dashboards.delivery.deliver import deliver_alerts
    from extract.warehouse import Warehouse

    env = delivery_env
    now = datetime.now(UTC)
    start = (now + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    quiet = {"start": f"{start:%H:%M}", "end": f"{start + timedelta(hours=2):%H:%M}"}
    env.standard_config(email={"quiet_hours": quiet})
    report = deliver_alerts(
        Warehouse(load_settings()),
        load_config(load_settings().alerts_config),
        DAY,
        DAY,
        timezone="UTC",
        now=start + timedelta(minutes=30),
    )
    assert len(report.held) == 2 and env.mail.messages == []

    repo = repository()
    instance = DagsterInstance.ephemeral()
    result = repo.get_sensor_def("held_alerts_sensor").evaluate_tick(
        build_sensor_context(instance=instance, repository_def=repo)
    )
    [request] = result.run_requests
    assert request.partition_key == DAY.isoformat()
    run = repo.get_job("alert_delivery_job").execute_in_process(
        instance=instance, partition_key=request.partition_key, tags=request.tags, raise_on_error=False
    )
    assert run.success
    assert sorted(m["Subject"].split(":")[0] for m in env.mail.messages) == [
        "[execmetrics] CRITICAL",
        "[execmetrics] WARNING",
    ]
    again = repo.get_sensor_def("held_alerts_sensor").evaluate_tick(
        build_sensor_context(instance=instance, repository_def=repo)
    )
    assert not again.run_requests and "no held alert" in (again.skip_message or "")


# ------------------------------------------------------------------------------------------------ commands


def invoke(*args: str) -> tuple[int, list[str]]:
    from orchestration.cli import app

    result = CliRunner().invoke(app, list(args), prog_name="execmetrics", env={"COLUMNS": "250"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"the command raised instead of ending in an error line: {result.exception!r}")
    output = result.stdout + (result.stderr or "")
    return result.exit_code, [line for line in output.splitlines() if line.strip()]


def one_error(code: int, lines: list[str], *fragments: str) -> str:
    errors = [line for line in lines if line.startswith("error:")]
    assert code == 1 and len(errors) == 1 and not any("Traceback" in line for line in lines), lines
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


def test_alerts_commands(delivery_env: DeliveryEnv) -> None:
    from dagster import materialize
    from delivery_helpers import delivery_asset, delivery_resources

    env = delivery_env
    env.standard_config()
    code, lines = invoke("alerts", "validate")
    assert code == 0 and any("is valid: channels leadership-email (email)" in line for line in lines), lines

    code, lines = invoke("alerts", "test", "--channel", "product-slack")
    assert code == 0 and "product-slack: test message delivered (HTTP 200)" in lines, lines
    [test_message] = env.http.accepted(SLACK_PATH)
    assert test_message.json["blocks"][0]["text"]["text"] == "Test message for channel product-slack"
    assert attempts(env, "product-slack") == [(1, "sent")]  # the test message is in the audit log too

    one_error(*invoke("alerts", "test", "--channel", "pager"), "no channel 'pager' in the channels file")
    env.http.behaviour["/" + SLACK_PATH] = "always_fail"
    one_error(*invoke("alerts", "test", "--channel", "product-slack"), "not delivered after 3 tries", "HTTP 500")
    env.http.behaviour["/" + SLACK_PATH] = "ok"

    code, lines = invoke("alerts", "list", "--since", (DAY - timedelta(days=60)).isoformat())
    assert code == 0 and any("4 alert(s) since" in line for line in lines), lines  # before any delivery
    assert materialize([delivery_asset()], partition_key=DAY.isoformat(), resources=delivery_resources())
    code, lines = invoke("alerts", "list", "--since", (DAY - timedelta(days=60)).isoformat())
    assert code == 0, lines
    acme = next(line for line in lines if str(DAY) in line and "jobs_success_rate" in line)
    assert "Acme Corp" in acme, "tenants by name"
    assert "leadership-email: sent" in acme and "ops-webhook: sent" in acme and "product-slack: sent" in acme
    old = next(line for line in lines if "jobs_success_rate" in line and str(DAY) not in line)
    assert "not delivered" in old

    code, lines = invoke("backfill", "--help")
    assert code == 0 and "--deliver-historical" in " ".join(lines)

    env.config_path.write_text("version: 1\nchannels:\n  x:\n    type: pager\n")
    one_error(*invoke("alerts", "validate"), str(env.config_path), "channels.x")
    env.config_path.unlink()
    one_error(*invoke("alerts", "test", "--channel", "x"), "no channels file at", "ALERTS_CONFIG")
    with env.conn() as conn:
        conn.execute("drop table reporting.rpt_alerts")
    env.standard_config()
    one_error(*invoke("alerts", "list"), "reporting.rpt_alerts does not exist yet", "execmetrics backfill")
