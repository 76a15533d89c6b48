"""In-process runs through the Dagster definitions: one daily partition, its month, GE blocking (the data channel
hears of it), idempotent reruns."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from dagster import AssetKey, DagsterInstance

DAY = date(2025, 11, 3)
BAD_DAY = date(2025, 11, 4)
SECRET = "whsec_data_team"
SEED_LOADS = "select trim(both '\"' from split_part(relation, '.', 3)), fingerprint from audit.seed_loads"


class DataChannel:
    """A channels file whose pipeline_health channel is a signed webhook to a receiver on loopback, and the real
    run-failure sensor ticking over the runs of `instance` (its first tick starts from now)."""

    def __init__(self, instance: DagsterInstance, root, monkeypatch) -> None:  # noqa: ANN001
        import yaml

        from extract.settings import load_settings
        from orchestration.definitions import build_definitions
        from tests.delivery.receivers import start_http_receiver

        self.receiver = start_http_receiver()
        url = self.receiver.url("hooks/data", f"signed:{SECRET}")
        monkeypatch.setenv("DATA_HOOK_SECRET", SECRET)
        config = {
            "version": 1,
            "channels": {
                "data-team": {"type": "webhook", "url": url, "secret": "${DATA_HOOK_SECRET}", "alerts": False}
            },
            "pipeline_health": {"channel": "data-team"},
        }
        path = root / "alerts-data-team.yml"
        path.write_text(yaml.safe_dump(config))
        monkeypatch.setenv("ALERTS_CONFIG", str(path))
        self.monkeypatch = monkeypatch
        self.instance = instance
        self.repo = build_definitions(load_settings()).get_repository_def()  # the code location, with this file
        self.cursor = self._tick(None)

    def _tick(self, cursor: str | None) -> str | None:
        from dagster import build_sensor_context

        context = build_sensor_context(instance=self.instance, repository_def=self.repo, cursor=cursor)
        self.repo.get_sensor_def("pipeline_failure_sensor").evaluate_tick(context)
        return context.cursor

    def messages_after_ticks(self, ticks: int) -> list[dict]:
        """The messages the receiver accepted after `ticks` ticks from the same cursor (a tick whose cursor was
        not saved sees the same runs again)."""
        for _ in range(ticks):
            self._tick(self.cursor)
        return [request.json for request in self.receiver.accepted("hooks/data")]

    def close(self) -> None:
        self.receiver.server.shutdown()
        self.monkeypatch.delenv("ALERTS_CONFIG")


def _materialized(instance: DagsterInstance, key: list[str]) -> set[str]:
    return set(instance.get_materialized_partitions(AssetKey(key)))


def _day_rows(conn, day: date) -> dict[str, str]:  # noqa: ANN001
    """A fingerprint of every daily mart's rows for one day."""
    return {
        table: conn.execute(
            f"select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) from marts.{table} t"
            f" where {column} = %s",
            (day,),
        ).fetchone()[0]
        for table, column in (("fct_daily_metrics", "metric_date"), ("fct_mrr_daily", "day"))
    }


@pytest.fixture(scope="module")
def one_day(orch_env):  # noqa: ANN001, ANN201
    from orchestration.pipeline import run_pipeline
    from orchestration.ui import get_instance

    messages: list[str] = []
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DBT_LOG_LEVEL_FILE", "debug")  # dbt's log, not kept by default, read by the saved-parse test
        result = run_pipeline(orch_env.settings, DAY, DAY, progress=messages.append)
    return result, get_instance(orch_env.settings), messages


def test_one_daily_partition_materializes(orch_env, one_day) -> None:  # noqa: ANN001
    result, instance, messages = one_day
    assert [run.job for run in result.runs] == ["daily_job", "monthly_job"]
    assert "2025-11-03" in _materialized(instance, ["raw", "app_events"])
    assert _materialized(instance, ["marts", "fct_daily_metrics"]) == {"2025-11-03"}
    assert result.row_counts["raw/app_events"] == 6  # the sample source has 6 events a day
    with orch_env.warehouse.connect() as conn:
        days = {row[0] for row in conn.execute("select distinct metric_date from marts.fct_daily_metrics")}
        assert date(2025, 11, 3) in days
    # every materialization records row counts, window and duration
    events = result.assets["raw/app_events"]
    assert events["rows_loaded"] == 6 and "duration_s" in events
    assert events["partition_window"].startswith("2025-11-03T00:00:00+00:00..2025-11-04")
    mart = result.assets["marts/fct_daily_metrics"]
    assert mart["partition_window"] == "2025-11-03..2025-11-03" and isinstance(mart["dagster/row_count"], int)
    with orch_env.warehouse.connect() as conn:
        assert mart["dagster/row_count"] == conn.execute("select count(*) from marts.fct_daily_metrics").fetchone()[0]
    assert "dagster/row_count" not in result.assets["staging/stg_app__events"]  # a view is not counted
    # the GE checks ran and passed
    assert result.checks["raw/app_tenants:ge_errors"].passed
    assert any("one run" in message for message in messages)


def test_monthly_partition_materializes_after_its_days(one_day) -> None:  # noqa: ANN001
    result, instance, _ = one_day
    assert _materialized(instance, ["marts", "fct_revenue_monthly"]) == {"2025-11-01"}
    daily_run = instance.get_run_record_by_id(result.runs[0].run_id)
    monthly_run = instance.get_run_record_by_id(result.runs[1].run_id)
    assert monthly_run.start_time >= daily_run.end_time
    assert result.assets["marts/fct_revenue_monthly"]["partition_window"] == "2025-11-01..2025-11-30"


def test_dbt_runs_keep_the_saved_parse(orch_env, one_day) -> None:  # noqa: ANN001
    """Each run passes its own window, yet dbt starts from the manifest's saved parse instead of parsing the project
    again (a window in --vars would change dbt's partial-parse check every run)."""
    from orchestration.assets.dbt import dbt_project

    result, _, _ = one_day
    project = dbt_project(orch_env.settings)
    logs = [
        log
        for run in result.runs
        for log in (project.project_dir / project.target_path).glob(f"dbt_*-{run.run_id[:7]}-*/dbt.log")
    ]
    assert len(logs) == 2  # the daily and the monthly dbt build: DBT_LOG_LEVEL_FILE=debug keeps dbt's log
    for log in logs:
        text = log.read_text(errors="replace")
        assert "Partial parsing enabled, no changes found, skipping parsing" in text, log
        assert "Unable to do partial parsing" not in text and "Starting full parse" not in text, log
        assert "Partial parsing: updated file" not in text, log  # nothing re-parsed, the seeds included


def _seeds_built(orch_env, run_id: str) -> set[str]:  # noqa: ANN001
    """The seeds dbt loaded in a run (its run_results.json)."""
    from orchestration.assets.dbt import dbt_project

    project = dbt_project(orch_env.settings)
    [results] = (project.project_dir / project.target_path).glob(f"dbt_daily-{run_id[:7]}-*/run_results.json")
    uids = [result["unique_id"] for result in json.loads(results.read_text())["results"]]
    return {uid.split(".")[-1] for uid in uids if uid.startswith("seed.")}


def test_a_daily_run_loads_only_the_seeds_that_changed(orch_env, one_day) -> None:  # noqa: ANN001
    """The first run loaded every seed and recorded each one's fingerprint; a run after it leaves the unchanged ones
    (and their tests) out of dbt, and still records the partition of their assets; a changed seed (its file or config:
    another fingerprint) or one never recorded is loaded again."""
    from orchestration.pipeline import run_pipeline

    first, _, _ = one_day
    seeds = _seeds_built(orch_env, first.runs[0].run_id)
    assert {"alert_thresholds", "currencies", "fx_rates"} <= seeds
    with orch_env.warehouse.connect() as conn:
        recorded = dict(conn.execute(SEED_LOADS))
    assert set(recorded) == seeds

    again = run_pipeline(orch_env.settings, DAY, DAY, include_monthly=False)
    assert _seeds_built(orch_env, again.runs[0].run_id) == set()
    assert again.assets["seeds/currencies"]["seed"].startswith("unchanged since its load at ")
    assert again.assets["seeds/currencies"]["partition_window"] == "2025-11-03..2025-11-03"
    assert any(not key.startswith("raw/") for key in again.checks), "no dbt test ran"
    assert not any("currencies" in key for key in again.checks)  # its tests ran when it was loaded

    with orch_env.warehouse.connect() as conn:
        conn.execute("update audit.seed_loads set fingerprint = 'before the edit' where relation like '%currencies%'")
        conn.execute("delete from audit.seed_loads where relation like '%fx_rates%'")
        conn.commit()
    changed = run_pipeline(orch_env.settings, DAY, DAY, include_monthly=False)
    assert _seeds_built(orch_env, changed.runs[0].run_id) == {"currencies", "fx_rates"}
    assert any("currencies" in key for key in changed.checks)
    with orch_env.warehouse.connect() as conn:
        assert dict(conn.execute(SEED_LOADS)) == recorded


def test_an_interrupted_dbt_step_stops_dbt(orch_env, one_day) -> None:  # noqa: ANN001
    """Terminating a run interrupts the step's own thread, while dbt's events are read in another (with_row_counts):
    the interrupt reaches dbt, which stops, instead of building on after the run ended."""
    import os
    import signal

    from dagster._core.errors import DagsterExecutionInterruptedError, raise_execution_interrupts
    from dagster._utils.interrupts import capture_interrupts

    from orchestration.assets.dbt import dbt_project, load_manifest, with_row_counts
    from orchestration.dbt_cli import environ
    from orchestration.partitions import dbt_window_env
    from orchestration.resources import dbt_resource

    project = dbt_project(orch_env.settings)
    manifest = load_manifest(orch_env.settings, project)
    warehouse = orch_env.warehouse.as_role("transformer")
    seen = []
    with environ({**warehouse.dbt_env(), **dbt_window_env(DAY, DAY + timedelta(days=1))}), capture_interrupts():
        invocation = dbt_resource(project).cli(
            ["build", "--select", "tag:daily", "--exclude", "tag:monthly"], manifest=manifest, raise_on_error=False
        )
        events = with_row_counts(invocation, warehouse)
        with raise_execution_interrupts(), pytest.raises(DagsterExecutionInterruptedError):
            for event in events:
                seen.append(event)
                os.kill(os.getpid(), signal.SIGINT)  # as a run worker told to terminate its run
        events.close()
    assert len(seen) == 1
    assert invocation.process.returncode not in (None, 0), "dbt was not stopped"
    built = json.loads((invocation.target_path / "run_results.json").read_text()).get("results", [])
    assert len(built) < len([n for n in manifest["nodes"].values() if "daily" in (n.get("tags") or [])])


def test_failing_ge_check_blocks_dbt_until_fixed_and_reruns_are_identical(orch_env, one_day, monkeypatch) -> None:  # noqa: ANN001
    from orchestration.pipeline import PipelineError, run_pipeline

    _, instance, _ = one_day
    data_channel = DataChannel(instance, orch_env.root, monkeypatch)
    with orch_env.warehouse.connect() as conn:
        built_day = _day_rows(conn, DAY)
    # A tenant signing up on 2025-11-04 whose created_at is before the company was founded: every value is valid
    # (the extractor loads it), but the GE error rule on timestamps fails.
    tenants_file = orch_env.app_dir / "tenants.jsonl"
    good = tenants_file.read_text()
    late = {
        **json.loads(good.splitlines()[0]),
        "id": "ten_late",
        "name": "Late Tenant",
        "stripe_customer_id": None,
        "updated_at": "2025-11-04T09:00:00+00:00",
    }
    tenants_file.write_text(good + json.dumps({**late, "created_at": "2025-08-01T09:00:00+00:00"}) + "\n")
    try:
        with pytest.raises(PipelineError) as failure:
            run_pipeline(orch_env.settings, BAD_DAY, BAD_DAY, include_monthly=False)
        message = str(failure.value)
        assert "raw/app_tenants:ge_errors" in message and "created_at" in message
        # the check failed, the dbt models of that partition did not run
        assert "2025-11-04" not in _materialized(instance, ["marts", "fct_daily_metrics"])
        assert "2025-11-04" in _materialized(instance, ["raw", "app_events"])
        with orch_env.warehouse.connect() as conn:
            recorded = conn.execute(
                """select success, failed from audit.ge_validation_results
                   where asset_key = 'raw/app_tenants' and level = 'error' order by id desc limit 1"""
            ).fetchone()
        assert recorded == (False, 1)
        assert (orch_env.root / "out" / "ge_data_docs" / "index.html").exists()
        # the index lists the newest results only (it is rebuilt every run); the failed result has its page
        from orchestration.checks.ge import DATA_DOCS_INDEX_RESULTS

        gx_config = (orch_env.root / "out" / "gx_project" / "gx" / "great_expectations.yml").read_text()
        assert f"validation_results_limit: {DATA_DOCS_INDEX_RESULTS}" in gx_config
        assert any((orch_env.root / "out" / "ge_data_docs" / "validations" / "raw" / "app_tenants").rglob("*.html"))
        # the data team hears of it once, with the blocking check (pipeline_failure_sensor's ticks)
        [message] = data_channel.messages_after_ticks(2)
        assert message["title"] == f"Pipeline run failed: daily_job ({BAD_DAY})"
        assert "Failing step: ge_raw_checks: 1 blocking asset check failed" in message["text"]
        assert "Blocking: check raw/app_tenants:ge_errors failed" in message["text"] and "created_at" in message["text"]
        assert message["data"]["run_id"] == failure.value.run_id
    finally:
        data_channel.close()
        # The fix: the source exports the same version of the tenant with its right created_at; the load replaces
        # the stored row by its key (a row dropped from the source would stay in raw: loads never delete).
        tenants_file.write_text(good + json.dumps({**late, "created_at": "2025-11-04T09:00:00+00:00"}) + "\n")

    # fixed rows: the check passes and dbt runs; the range re-runs the already built DAY too
    result = run_pipeline(orch_env.settings, DAY, BAD_DAY, include_monthly=False)
    assert result.checks["raw/app_tenants:ge_errors"].passed
    assert {"2025-11-03", "2025-11-04"} <= _materialized(instance, ["marts", "fct_daily_metrics"])
    assert len(result.runs) == 1
    with orch_env.warehouse.connect() as conn:
        assert _day_rows(conn, DAY) == built_day, "re-running a built partition changed its marts"
        assert conn.execute(
            "select count(*) from marts.fct_daily_metrics where metric_date = %s", (BAD_DAY,)
        ).fetchone()[0]
