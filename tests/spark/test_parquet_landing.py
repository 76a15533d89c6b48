"""extract/parquet.py without Spark: the raw schema written as Parquet keeps every row, value and type (pyarrow
reads it back), and a table in Spark's Parquet layout is published into Postgres with its types and values. Runs
where the spark extra is installed (pyarrow); the engines' comparison is test_spark_models.py, the pipeline's
tests/orchestration/test_spark_pipeline.py."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from extract.parquet import ParquetLandingError, land_raw_parquet, publish_spark_table, spark_table_folder
from extract.warehouse import Target

pq = pytest.importorskip("pyarrow.parquet", reason="the spark extra is not installed: pip install -e '.[spark]'")


def test_every_raw_table_lands_with_its_rows_and_types(pg_target: Target, tmp_path: Path) -> None:
    with psycopg.connect(pg_target.conninfo, autocommit=True) as conn:
        conn.execute("create schema raw")
        conn.execute(
            "create table raw.things (id text, n integer, big bigint, x double precision, ok boolean,"
            " at timestamptz, payload jsonb)"
        )
        conn.execute(
            "insert into raw.things values ('a', 1, 9000000000, 1.5, true, '2025-03-30 01:30+02', '{\"k\": [1, 2]}'),"
            " ('b', null, null, null, null, null, null)"
        )
        conn.execute("create table raw.empty (id text)")
        counts = land_raw_parquet(conn, tmp_path, batch_rows=1)
    assert counts == {"empty": 0, "things": 2}
    table = pq.read_table(tmp_path / "raw" / "things")
    assert [str(field.type) for field in table.schema] == [
        "string",
        "int32",
        "int64",
        "double",
        "bool",
        "timestamp[us, tz=UTC]",
        "string",
    ]
    rows = sorted(table.to_pylist(), key=lambda row: row["id"])
    assert rows[0]["at"] == datetime(2025, 3, 29, 23, 30, tzinfo=UTC)
    assert rows[0]["payload"] == '{"k": [1, 2]}'
    assert rows[1] == {"id": "b", "n": None, "big": None, "x": None, "ok": None, "at": None, "payload": None}
    assert pq.read_table(tmp_path / "raw" / "empty").num_rows == 0


def test_a_type_without_a_parquet_mapping_is_an_error(pg_target: Target, tmp_path: Path) -> None:
    with psycopg.connect(pg_target.conninfo, autocommit=True) as conn:
        conn.execute("create schema raw")
        conn.execute("create table raw.odd (id text, span interval)")
        with pytest.raises(ParquetLandingError, match=r"raw.odd: no Parquet type for span \(interval\)"):
            land_raw_parquet(conn, tmp_path)


def test_no_raw_schema_is_an_error(pg_target: Target, tmp_path: Path) -> None:
    with psycopg.connect(pg_target.conninfo) as conn, pytest.raises(ParquetLandingError, match="no raw tables"):
        land_raw_parquet(conn, tmp_path)


def _write_spark_table(spark_dir: Path, schema: str, table: str, columns: dict, partition: str | None = None) -> Path:
    """A table as the `spark` target leaves it: Parquet files in <spark_dir>/warehouse/<schema>.db/<table>/, a
    partition column as a `name=value` folder."""
    import pyarrow as pa

    folder = spark_table_folder(spark_dir, schema, table)
    part = folder / partition if partition else folder
    part.mkdir(parents=True)
    (folder / "_SUCCESS").touch()
    pq.write_table(pa.table(columns), part / "part-00000.parquet")
    return folder


def test_a_spark_table_is_published_with_its_types_and_values(pg_target: Target, tmp_path: Path) -> None:
    import pyarrow as pa

    columns = {
        "id": pa.array(["a", None], pa.string()),
        "n": pa.array([1, None], pa.int32()),
        "big": pa.array([9_000_000_000, None], pa.int64()),
        "x": pa.array([1.5, None], pa.float64()),
        "ok": pa.array([True, None], pa.bool_()),
        "day": pa.array([date(2025, 11, 3), None], pa.date32()),
        "at": pa.array([datetime(2025, 11, 3, 23, 30), None], pa.timestamp("ns")),  # Spark's TIMESTAMP: UTC
        "amount": pa.array([Decimal("0.050000000000"), None], pa.decimal128(38, 12)),
        "tags": pa.array([["p", "q"], None], pa.list_(pa.string())),
    }
    _write_spark_table(tmp_path, "reporting", "rpt_things", columns)
    with psycopg.connect(pg_target.conninfo, autocommit=True) as conn:
        assert publish_spark_table(conn, tmp_path, "reporting", "rpt_things", batch_rows=1) == 2
        types = conn.execute(
            "select column_name, data_type from information_schema.columns"
            " where table_schema = 'reporting' and table_name = 'rpt_things' order by ordinal_position"
        ).fetchall()
        rows = conn.execute("select * from reporting.rpt_things order by id nulls last").fetchall()
    assert types == [
        ("id", "text"),
        ("n", "integer"),
        ("big", "bigint"),
        ("x", "double precision"),
        ("ok", "boolean"),
        ("day", "date"),
        ("at", "timestamp with time zone"),
        ("amount", "numeric"),
        ("tags", "ARRAY"),
    ]
    assert rows[0] == (
        "a",
        1,
        9_000_000_000,
        1.5,
        True,
        date(2025, 11, 3),
        datetime(2025, 11, 3, 23, 30, tzinfo=UTC),
        Decimal("0.05"),
        ["p", "q"],
    )
    assert rows[1] == (None,) * 9


def test_a_contract_gives_the_types_and_order_and_the_table_is_replaced(pg_target: Target, tmp_path: Path) -> None:
    import pyarrow as pa

    columns = {"id": pa.array(["a", "b"]), "mrr": pa.array([Decimal("10.5"), Decimal("2")], pa.decimal128(38, 12))}
    _write_spark_table(tmp_path, "marts", "fct_things", columns, partition="day=2025-11-03")
    contract = [("day", "date"), ("id", "text"), ("mrr", "numeric(18, 2)")]
    with psycopg.connect(pg_target.conninfo, autocommit=True) as conn:
        conn.execute("create schema marts")
        conn.execute("create table marts.fct_things (stale text)")
        conn.execute("insert into marts.fct_things values ('old')")
        indexes = [{"columns": ["day"]}, {"columns": ["id", "day"], "unique": True}]
        assert publish_spark_table(conn, tmp_path, "marts", "fct_things", contract, indexes=indexes) == 2
        rows = conn.execute("select * from marts.fct_things order by id").fetchall()
        declared = conn.execute(
            "select indexdef from pg_indexes where schemaname = 'marts' and tablename = 'fct_things' order by 1"
        ).fetchall()
        scale = conn.execute(
            "select numeric_scale from information_schema.columns where table_name = 'fct_things'"
            " and column_name = 'mrr'"
        ).fetchone()
    assert rows == [(date(2025, 11, 3), "a", Decimal("10.50")), (date(2025, 11, 3), "b", Decimal("2.00"))]
    assert scale == (2,)
    # the model's dbt `indexes` config, as a Postgres build creates it (the dashboards' filters use them)
    assert [re.sub(r"^.* USING ", "", d) for (d,) in declared] == ["btree (day)", "btree (id, day)"]
    assert sum(" UNIQUE " in d for (d,) in declared) == 1


def test_publishing_refuses_what_it_cannot_type(pg_target: Target, tmp_path: Path) -> None:
    import pyarrow as pa

    _write_spark_table(tmp_path, "reporting", "odd", {"id": pa.array(["a"]), "span": pa.array([1], pa.time64("us"))})
    _write_spark_table(tmp_path, "reporting", "split", {"id": pa.array(["a"])}, partition="day=2025-11-03")
    with psycopg.connect(pg_target.conninfo, autocommit=True) as conn:
        with pytest.raises(ParquetLandingError, match=r"no Postgres type for the Parquet type time64\[us\]"):
            publish_spark_table(conn, tmp_path, "reporting", "odd")
        with pytest.raises(ParquetLandingError, match="reporting.split: partitioned by day without a contract"):
            publish_spark_table(conn, tmp_path, "reporting", "split")
        with pytest.raises(ParquetLandingError, match="reporting.missing: the Spark build left no table"):
            publish_spark_table(conn, tmp_path, "reporting", "missing")
        with pytest.raises(ParquetLandingError, match="columns"):
            publish_spark_table(conn, tmp_path, "reporting", "odd", [("id", "text")])
        assert conn.execute("select to_regclass('reporting.odd')").fetchone() == (None,)
