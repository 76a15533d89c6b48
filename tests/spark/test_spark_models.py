"""The same dbt models on Postgres and on Spark (dbt-spark `session`, pyspark local mode), compared row for row.

One fixture for both engines: the hand-checked app week of tests/dbt/test_daily_metrics.py and the Stripe edge-case
customers of tests/dbt/fixtures/stripe/cases.py. Postgres builds every model (staging, intermediate, marts,
reporting); the raw schema is landed as Parquet (extract/parquet.py) and Spark builds the same models from the same
files; each must hold the same rows on both (numbers equal within rounding, tests/spark/engines.py;
docs/ARCHITECTURE.md, "Engines").

Marked `spark`: `make test` does not run it (it needs the spark extra and Java 17, and Spark is slow to start);
run it with `pytest -m spark tests/spark`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from test_daily_metrics import load_fixture  # noqa: I001
from test_product_helpers import fresh_warehouse, stripe_cases

from extract.parquet import land_raw_parquet
from extract.settings import PROJECT_ROOT
from extract.stripe.loader import load_objects
from extract.warehouse import Target
from orchestration.dbt_cli import run_dbt, spark_engine_problem

pytestmark = pytest.mark.spark

MODELS_DIR = PROJECT_ROOT / "dbt_project/models"
# Personal-data models are not built unless INCLUDE_PERSONAL_DATA is set (macros/access.sql): nothing to compare.
PERSONAL_DATA = {"dim_revenue_customer_contacts", "rpt_customer_contacts"}
# Every model, by the schema its folder builds into (dbt_project.yml).
SPARK_MODELS = {
    path.stem: layer
    for layer in ("staging", "intermediate", "marts", "reporting")
    for path in sorted((MODELS_DIR / layer).rglob("*.sql"))
    if path.stem not in PERSONAL_DATA
}


@pytest.fixture(scope="module")
def engines(pg_server: Target, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Target, Any]]:
    if (problem := spark_engine_problem()) is not None:
        pytest.skip(problem)
    from engines import spark_session

    selection = "staging intermediate marts reporting"  # every model (each one is compared)
    tmp = tmp_path_factory.mktemp("spark_engines")
    with fresh_warehouse(pg_server) as target:
        with psycopg.connect(target.conninfo, autocommit=True) as conn:
            load_fixture(conn)
        with psycopg.connect(target.conninfo) as conn:
            assert load_objects(conn, stripe_cases("spark_cases").build_objects(), batch_id="fixture").rejected == 0
            conn.commit()
        run_dbt(["seed", "--quiet"], target, target_path=tmp / "pg")
        run_dbt(["run", "--quiet", "--select", selection], target, target_path=tmp / "pg")
        spark_dir = tmp / "spark"
        with psycopg.connect(target.conninfo) as conn:
            land_raw_parquet(conn, spark_dir)
        spark_env = {"DBT_TARGET": "spark", "SPARK_DIR": str(spark_dir), "SPARK_MASTER": "local[2]"}
        run_dbt(["seed", "--quiet"], target, target_path=tmp / "spark_target", env=spark_env)
        run_dbt(["run", "--quiet", "--select", selection], target, target_path=tmp / "spark_target", env=spark_env)
        spark = spark_session(spark_dir)  # the session dbt started in this process
        try:
            yield target, spark
        finally:
            spark.stop()


@pytest.mark.parametrize("model", sorted(SPARK_MODELS))
def test_model_equal_on_both_engines(engines: tuple[Target, Any], model: str) -> None:
    from engines import compare

    target, spark = engines
    relation = f"{SPARK_MODELS[model]}.{model}"
    with psycopg.connect(target.conninfo) as conn:
        assert conn.execute(f"select count(*) from {relation}").fetchone()[0] > 0 or model in EMPTY_ON_FIXTURE
        assert compare(conn, spark, relation) == []


# Models the fixture leaves empty (nothing in it feeds them): compared all the same, but not required to have rows.
EMPTY_ON_FIXTURE = {"stg_stripe__refunds", "stg_app__api_requests", "int_daily_api", "int_stripe__payment_failures"}


def test_parquet_landing_keeps_every_raw_row(engines: tuple[Target, Any]) -> None:
    target, spark = engines
    with psycopg.connect(target.conninfo) as conn:
        for table in ("app_events", "app_users", "stripe_invoices", "stripe_customers"):
            expected = conn.execute(f"select count(*) from raw.{table}").fetchone()[0]
            assert expected > 0
            assert spark.sql(f"select count(*) from raw.{table}").collect()[0][0] == expected


def test_spark_dir_holds_the_landed_tables(engines: tuple[Target, Any]) -> None:
    _target, spark = engines
    location = spark.sql("describe table extended raw.app_events").where("col_name = 'Location'").collect()[0][1]
    assert Path(location.removeprefix("file:")).name == "app_events"
