"""Read a relation from both engines and compare it: the Spark session the `spark` profile target describes, and
the Postgres warehouse. Rows are compared as sets of normalised tuples: numbers within rounding, timestamps as
UTC instants, JSON by value, and the decimal numbers written into a text (an alert's message) by value too (each
engine writes a decimal with its type's scale: Postgres 0.0500, Spark 0.050000000000)."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2
import yaml

from extract.settings import PROJECT_ROOT

PLACES = 6  # numbers equal within rounding: compared at this many decimal places (relative for large values)
DECIMAL_IN_TEXT = re.compile(r"(?<![\w.])-?\d+\.\d+(?![\w.])")


def spark_conf(spark_dir: Path) -> dict[str, str]:
    """The Spark settings of profiles.yml's `spark` target, rendered for `spark_dir` (one definition of them)."""
    profile = yaml.safe_load((PROJECT_ROOT / "profiles.yml").read_text())
    params = profile["execmetrics"]["outputs"]["spark"]["server_side_parameters"]
    env = {**os.environ, "SPARK_DIR": str(spark_dir)}

    def env_var(name: str, default: str | None = None) -> str:
        return env.get(name, default) if default is not None else env[name]

    render = jinja2.Environment()
    conf = {key: render.from_string(str(value)).render(env_var=env_var) for key, value in params.items()}
    conf["spark.sql.ansi.enabled"] = "false"  # as dbt-spark sets it
    return conf


def spark_session(spark_dir: Path) -> Any:
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.enableHiveSupport()
    for key, value in spark_conf(spark_dir).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def normalise(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal):
        number = float(value)
        if math.isnan(number):
            return "nan"
        if number == 0:
            return 0.0
        magnitude = math.floor(math.log10(abs(number)))
        return round(number, max(PLACES - max(magnitude, 0), 0))
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:  # Spark's session timezone is UTC (profiles.yml)
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.dumps(json.loads(value), sort_keys=True)
        except ValueError:
            pass
    if isinstance(value, str):
        return DECIMAL_IN_TEXT.sub(lambda match: str(normalise(Decimal(match.group()))), value)
    return value


def rows_postgres(conn: Any, relation: str) -> tuple[list[str], Counter]:
    cursor = conn.execute(f"select * from {relation}")
    columns = [c.name for c in cursor.description]
    return columns, Counter(tuple(normalise(v) for v in row) for row in cursor.fetchall())


def rows_spark(spark: Any, relation: str, columns: list[str] | None = None) -> tuple[list[str], Counter]:
    """The rows of `relation`, its columns in the order given (Spark puts a table's partition columns last)."""
    frame = spark.sql(f"select * from {relation}")
    if columns is not None and sorted(columns) == sorted(frame.columns):
        frame = frame.select(*[f"`{name}`" for name in columns])
    return list(frame.columns), Counter(tuple(normalise(v) for v in row) for row in frame.collect())


def compare(conn: Any, spark: Any, relation: str) -> list[str]:
    """What differs in `relation` between the engines (empty when the rows are equal)."""
    pg_columns, pg_rows = rows_postgres(conn, relation)
    sp_columns, sp_rows = rows_spark(spark, relation, pg_columns)
    if pg_columns != sp_columns:
        return [f"{relation}: columns differ: postgres {pg_columns}, spark {sp_columns}"]
    problems = []
    only_pg, only_sp = pg_rows - sp_rows, sp_rows - pg_rows
    if only_pg or only_sp:
        problems.append(
            f"{relation}: {sum(pg_rows.values())} rows on postgres, {sum(sp_rows.values())} on spark; "
            f"{sum(only_pg.values())} only on postgres (first: {next(iter(only_pg), None)}), "
            f"{sum(only_sp.values())} only on spark (first: {next(iter(only_sp), None)})"
        )
    return problems
