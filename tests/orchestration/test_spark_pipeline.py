"""The daily Dagster job with DBT_TARGET=spark, for one day of the orchestration fixture: the raw tables landed as
Parquet, the daily models built and tested on Spark (dbt-spark `session`, pyspark local mode), then the marts and
reporting tables copied into the Postgres warehouse, where the readers (here the job's own alert delivery) find
them. The copies must equal a Postgres build of the same day.

Marked `spark`: `make test` does not run it; `pytest -m spark tests/spark tests/orchestration/test_spark_pipeline.py`.
"""

from __future__ import annotations

import sys
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest

from extract.access import READ_SCHEMAS
from orchestration.dbt_cli import run_dbt, spark_engine_problem
from orchestration.partitions import dbt_window_env

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "spark"))

pytestmark = pytest.mark.spark

DAY = date(2025, 11, 3)


def _tables(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        "select table_schema || '.' || table_name from information_schema.tables"
        " where table_schema = any(%s) and table_type = 'BASE TABLE' order by 1",
        (list(READ_SCHEMAS),),
    ).fetchall()
    return [row[0] for row in rows]


def _contents(conn: psycopg.Connection) -> dict[str, tuple[list[str], Counter]]:
    from engines import rows_postgres

    return {relation: rows_postgres(conn, relation) for relation in _tables(conn)}


@pytest.fixture(scope="module")
def spark_run(orch_env, tmp_path_factory):  # noqa: ANN001, ANN201
    if (problem := spark_engine_problem()) is not None:
        pytest.skip(problem)
    from orchestration.pipeline import run_pipeline
    from orchestration.ui import get_instance

    spark_dir = tmp_path_factory.mktemp("spark_pipeline")
    settings = orch_env.settings.model_copy(update={"dbt_target": "spark", "spark_dir": spark_dir})
    result = run_pipeline(settings, DAY, DAY, include_monthly=False)
    with orch_env.warehouse.connect() as conn:
        published = _contents(conn)
    return settings, get_instance(settings), result, published


def test_daily_job_builds_on_spark_and_delivers(spark_run) -> None:  # noqa: ANN001
    from dagster import AssetKey

    settings, instance, result, _published = spark_run
    assert [run.job for run in result.runs] == ["daily_job"]
    for key in (["raw", "app_events"], ["marts", "fct_daily_metrics"], ["marts", "fct_mrr_daily"]):
        assert instance.get_materialized_partitions(AssetKey(key)) == {DAY.isoformat()}, key
    assert instance.get_materialized_partitions(AssetKey(["alerts", "alert_deliveries"])) == {DAY.isoformat()}
    assert (settings.spark_dir / "raw" / "app_events" / "part-00000.parquet").is_file()
    assert (settings.spark_dir / "warehouse" / "marts.db" / "fct_daily_metrics").is_dir()


def test_published_tables_equal_a_postgres_build_of_the_day(orch_env, spark_run) -> None:  # noqa: ANN001
    _settings, _instance, _result, published = spark_run
    assert {"marts.fct_daily_metrics", "marts.fct_mrr_daily", "reporting.rpt_alerts"} <= set(published)
    assert sum(published["marts.fct_daily_metrics"][1].values()) > 0
    assert sum(published["marts.fct_mrr_daily"][1].values()) > 0
    # the same day built on Postgres, over the published tables, in the same database
    target_path = orch_env.root / "pg_dbt"
    window = dbt_window_env(DAY, DAY + timedelta(days=1))
    run_dbt(["seed", "--quiet"], orch_env.target, target_path=target_path)
    run_dbt(["run", "--quiet", "--select", "tag:daily"], orch_env.target, target_path=target_path, env=window)
    with orch_env.warehouse.connect() as conn:
        built = _contents(conn)
    assert set(published) <= set(built)
    differences = [
        f"{relation}: columns {published[relation][0]} vs {built[relation][0]}; rows only published:"
        f" {published[relation][1] - built[relation][1]}, only built: {built[relation][1] - published[relation][1]}"
        for relation in sorted(published)
        if published[relation] != built[relation]
    ]
    assert differences == []
