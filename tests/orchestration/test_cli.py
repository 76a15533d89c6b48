"""`execmetrics` as a person meets it: each expected failure ends in exactly one `error:` line and a non-zero exit,
never a traceback (that is for -v), and a failed run names its log file. (A good backfill's quiet terminal is
checked after a demo, in test_first_hour.py.)

In-process through the top-level command (typer's CliRunner), on the orchestration fixture's hand-written sources.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]
from typer.testing import CliRunner

from orchestration.cli import app

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "delivery"))

from receivers import start_http_receiver  # noqa: E402

runner = CliRunner()
DAY = "2025-11-05"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def invoke(*args: str) -> tuple[int, list[str]]:
    """Run `execmetrics <args>` with the current environment; (exit code, non-empty output lines)."""

    result = runner.invoke(app, list(args), prog_name="execmetrics")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"the command raised instead of ending in an error line: {result.exception!r}")
    output = result.stdout + (result.stderr or "")
    return result.exit_code, [line for line in output.splitlines() if line.strip()]


def assert_one_error(code: int, lines: list[str], *fragments: str, exit_code: int = 1) -> str:
    errors = [line for line in lines if line.startswith("error:")]
    assert code == exit_code, lines
    assert len(errors) == 1, lines
    assert not any("Traceback" in line for line in lines), lines
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


@pytest.fixture
def env(orch_env, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:  # noqa: ANN001
    monkeypatch.setenv("LOG_DIR", str(tmp_path / "logs"))
    yield monkeypatch


# ------------------------------------------------------------------------------------------------ usage and dates


def test_bad_dates(env: pytest.MonkeyPatch) -> None:
    code, lines = invoke("backfill", "--start", "2025-02-30", "--end", "2025-03-01")
    assert_one_error(code, lines, "--start", "execmetrics backfill --help", exit_code=2)
    code, lines = invoke("backfill", "--start", "2025-11-05", "--end", "2025-11-04")
    assert_one_error(code, lines, "--end is before --start")
    code, lines = invoke("backfill", "--start", "2025-10-01", "--end", "2025-10-01")
    assert_one_error(code, lines, "before the first daily partition 2025-11-01", "PARTITIONS_START_DATE")
    code, lines = invoke("backfill", "--start", "2999-01-01", "--end", "2999-01-01")
    assert_one_error(code, lines, "in the future")
    code, lines = invoke("summary", "--start", "yesterday", "--end", "2025-11-01")
    assert_one_error(code, lines, "--start", exit_code=2)


def test_unknown_command_and_missing_option(env: pytest.MonkeyPatch) -> None:
    assert_one_error(*invoke("backfil"), "No such command", exit_code=2)
    assert_one_error(*invoke("backfill", "--start", DAY), "Missing option '--end'", exit_code=2)


# ------------------------------------------------------------------------------------------------ sources


def test_missing_sources(env: pytest.MonkeyPatch) -> None:
    env.delenv("APP_SOURCE_DIR")
    assert_one_error(*invoke("backfill", "--start", DAY, "--end", DAY), "no app source configured", "APP_DATABASE_URL")
    env.setenv("APP_SOURCE_DIR", "/nonexistent/app-exports")
    assert_one_error(*invoke("backfill", "--start", DAY, "--end", DAY), "APP_SOURCE_DIR", "is not a folder")


def test_missing_stripe_source_and_unreadable_dump(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.delenv("STRIPE_DUMP_DIR")
    assert_one_error(*invoke("backfill", "--start", DAY, "--end", DAY), "no Stripe source configured")
    env.setenv("STRIPE_DUMP_DIR", str(tmp_path / "nowhere"))
    assert_one_error(*invoke("backfill", "--start", DAY, "--end", DAY), "Stripe dump folder", "does not exist")
    dump = tmp_path / "dump"
    (dump / "customers.json").mkdir(parents=True)  # a folder where a file should be: cannot be read
    assert_one_error(*invoke("load", "stripe-dump", str(dump)), "customers.json")
    (dump / "notes.json").write_text("{}")
    assert_one_error(*invoke("load", "stripe-dump", str(dump)), "unknown files in the Stripe dump", "notes.json")


def test_an_unchanged_stripe_dump_is_not_read_again(env: pytest.MonkeyPatch) -> None:
    dump = os.environ["STRIPE_DUMP_DIR"]
    code, first = invoke("load", "stripe-dump", dump)
    assert code == 0 and not any(line.startswith("not read") for line in first), first
    code, second = invoke("load", "stripe-dump", dump)
    [skipped] = [line for line in second if line.startswith("not read")]
    assert code == 0 and "--full-refresh" in skipped and "customer" in skipped, second
    code, forced = invoke("load", "stripe-dump", dump, "--full-refresh")
    assert code == 0 and not any(line.startswith("not read") for line in forced), forced


# ------------------------------------------------------------------------------------------------ unreachable parts


def test_unreachable_warehouse(env: pytest.MonkeyPatch) -> None:
    env.setenv("WAREHOUSE_URL", f"postgresql://postgres@127.0.0.1:{_closed_port()}/execmetrics")
    error = assert_one_error(*invoke("summary", "--start", DAY, "--end", DAY), "cannot reach the warehouse")
    assert "WAREHOUSE_URL" in error
    assert_one_error(*invoke("backfill", "--start", DAY, "--end", DAY), "cannot reach the warehouse")


def test_unreachable_stripe_api(env: pytest.MonkeyPatch) -> None:
    from extract.stripe.client import StripeApi

    env.setenv("STRIPE_API_KEY", "rk_test_unreachable")
    env.setenv("STRIPE_API_BASE", f"http://127.0.0.1:{_closed_port()}")
    env.setattr(StripeApi, "backoff", lambda self, attempt: 0.01)  # the retries themselves, without their waits
    error = assert_one_error(*invoke("extract", "stripe"), "the Stripe API at http://127.0.0.1:", "connection")
    assert "rk_test_unreachable" not in error


# ------------------------------------------------------------------------------------------------ failed runs


def test_failed_blocking_check_names_it_and_the_log(env: pytest.MonkeyPatch, orch_env, tmp_path: Path) -> None:  # noqa: ANN001
    # A tenant whose created_at is before the company was founded: the extractor loads it (every value is valid),
    # the blocking GE rule on timestamps fails.
    bad_day = "2025-11-04"
    tenants = orch_env.app_dir / "tenants.jsonl"
    good = tenants.read_text()
    late = {**json.loads(good.splitlines()[0]), "id": "ten_cli", "stripe_customer_id": None}
    late["updated_at"] = f"{bad_day}T09:00:00+00:00"
    tenants.write_text(good + json.dumps({**late, "created_at": "2025-08-01T09:00:00+00:00"}) + "\n")
    # the data team's channel (pipeline health): a signed webhook on loopback, told by the run-failure sensor
    receiver = start_http_receiver()
    hook = {"type": "webhook", "url": receiver.url("data", "signed:whsec_data"), "secret": "${DATA_HOOK_SECRET}"}
    alerts_file = tmp_path / "alerts.yml"
    health = {
        "version": 1,
        "channels": {"data-team": {**hook, "alerts": False}},
        "pipeline_health": {"channel": "data-team"},
    }
    alerts_file.write_text(yaml.safe_dump(health))
    env.setenv("ALERTS_CONFIG", str(alerts_file))
    env.setenv("DATA_HOOK_SECRET", "whsec_data")
    tick = failure_sensor_tick()
    cursor = tick(None)  # its first tick starts from now
    try:
        code, lines = invoke("backfill", "--start", bad_day, "--end", bad_day)
        error = assert_one_error(code, lines, "raw/app_tenants:ge_errors", "created_at", "log: ")

        # a real tick of the run-failure sensor sees that run and tells the data channel once, naming the check
        tick(tick(cursor))
        [told] = receiver.accepted("data")
        assert told.json["title"] == f"Pipeline run failed: daily_job ({bad_day})"
        assert (
            "Blocking: check raw/app_tenants:ge_errors failed" in told.json["text"]
            and "created_at" in told.json["text"]
        )
        assert told.json["link"].endswith(f"/runs/{told.json['data']['run']}")
        log = Path(error.rsplit("log: ", 1)[1].rstrip(")"))
        assert log.parent == tmp_path / "logs" and log.exists()
        assert "dagster" in log.read_text()  # Dagster's own log lines went to the file, not the terminal
        assert len(lines) <= 8, lines

        code, verbose = invoke("-v", "backfill", "--start", bad_day, "--end", bad_day)
        assert code == 1
        assert any("Traceback" in line for line in verbose), "-v shows the traceback"
        assert any(" DEBUG " in line for line in verbose), "-v shows the debug logs"
    finally:
        receiver.server.shutdown()
        # the source re-exports the same version with its right created_at: the load replaces the stored row
        tenants.write_text(good + json.dumps({**late, "created_at": f"{bad_day}T09:00:00+00:00"}) + "\n")


def failure_sensor_tick():  # noqa: ANN201
    """One evaluation of pipeline_failure_sensor on the code location and the DAGSTER_HOME instance the CLI runs use:
    tick(cursor) -> the next cursor."""
    from dagster import build_sensor_context

    from extract.settings import load_settings
    from orchestration.definitions import build_definitions
    from orchestration.ui import get_instance

    settings = load_settings()  # the code location's: the environment the test set
    instance = get_instance(settings)
    repo = build_definitions(settings).get_repository_def()
    sensor = repo.get_sensor_def("pipeline_failure_sensor")

    def tick(cursor: str | None) -> str | None:
        context = build_sensor_context(instance=instance, repository_def=repo, cursor=cursor)
        sensor.evaluate_tick(context)
        return context.cursor

    return tick


def test_failed_dbt_model_names_it_and_the_log(env: pytest.MonkeyPatch, orch_env) -> None:  # noqa: ANN001
    # A table changed by hand under an incremental model: dbt's incremental insert fails on that model.
    with orch_env.warehouse.connect(autocommit=True) as conn:
        conn.execute("create schema if not exists intermediate")
        conn.execute("drop table if exists intermediate.int_user_daily_activity cascade")
        conn.execute("create table intermediate.int_user_daily_activity (changed_by_hand int)")
    env.delenv("DBT_LOG_LEVEL_FILE", raising=False)  # dbt's log not kept: the error says how, and where the SQL is
    try:
        code, lines = invoke("backfill", "--start", DAY, "--end", DAY)
        error = assert_one_error(code, lines, "dbt build failed", "int_user_daily_activity", "dbt's log", "log: ")
        assert "step dbt_daily failed" in error
        assert "DBT_LOG_LEVEL_FILE=debug" in error and "the SQL each node ran: " in error
    finally:
        with orch_env.warehouse.connect(autocommit=True) as conn:
            conn.execute("drop table if exists intermediate.int_user_daily_activity cascade")
