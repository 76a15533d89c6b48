"""extract/parquet.py without Spark: the raw schema written as Parquet keeps every row, value and type (pyarrow
reads it back). Runs where the spark extra is installed (pyarrow); the engines' comparison is test_spark_models.py."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from extract.parquet import ParquetLandingError, land_raw_parquet
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
