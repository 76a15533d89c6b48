"""End to end: the webserver and the daemon run as real processes; a backfill launched through Dagster's GraphQL
API (the one the UI uses) runs as a single run and fills every partition and the marts. The backfill is the session's
daily one (ui_harness.daily_backfill): the browser test, when it runs first, has launched it already."""

from __future__ import annotations

import psycopg
import pytest
from ui_harness import daily_backfill, wait_for_backfill

pytestmark = pytest.mark.slow


def test_backfill_through_graphql_fills_partitions_and_marts(dagster_ui) -> None:  # noqa: ANN001
    from dagster import AssetKey, DagsterInstance, RunsFilter

    ui = dagster_ui
    # the UI lists the jobs and schedules, and the daemon is up (backfills need it)
    repo = ui.graphql(
        "{ repositoriesOrError { ... on RepositoryConnection { nodes { name jobs { name } schedules { name } } } } }"
    )["repositoriesOrError"]["nodes"][0]
    assert {"daily_job", "monthly_job"} <= {job["name"] for job in repo["jobs"]}
    assert {"daily_schedule", "monthly_schedule"} <= {s["name"] for s in repo["schedules"]}

    backfill_id = daily_backfill(ui)  # 2025-11-02..2025-11-04
    status = wait_for_backfill(ui, backfill_id)
    assert status["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), f"{status}\n{ui.logs()}"

    instance = DagsterInstance.from_config(str(ui.home))
    runs = instance.get_runs(RunsFilter(tags={"dagster/backfill": backfill_id}))
    assert len(runs) == 1, f"a single-run backfill, got {len(runs)} runs"
    for key in (["raw", "app_events"], ["raw", "stripe_invoices"], ["marts", "fct_daily_metrics"]):
        materialized = set(instance.get_materialized_partitions(AssetKey(key)))
        assert {"2025-11-02", "2025-11-03", "2025-11-04"} <= materialized, key

    with psycopg.connect(ui.target.conninfo) as conn:
        days = {
            row[0].isoformat()
            for row in conn.execute("select distinct metric_date from marts.fct_daily_metrics where events_total > 0")
        }
    assert {"2025-11-02", "2025-11-03", "2025-11-04"} <= days
