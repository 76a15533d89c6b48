"""The raw schema written as Parquet, for the dbt models' Spark target (docs/ARCHITECTURE.md, "Engines").

Each table of the warehouse's `raw` schema becomes a folder `<spark_dir>/raw/<table>/` of Parquet files, replaced
whole on each landing. The dbt project registers every source table over its folder when it runs on the `spark`
target (macros/spark.sql, `register_raw_parquet`), so the staging models read the same tables under the same names.

Types keep their meaning: `timestamptz` becomes a UTC-adjusted Parquet timestamp (Spark's TIMESTAMP), `jsonb` its
text (the models read it with `json_text`), numbers and booleans their Arrow equivalents. A column of a type not
listed here is an error rather than a guess.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import psycopg
from psycopg import sql

BATCH_ROWS = 50_000

# Postgres type (information_schema.columns.data_type) -> (Arrow type factory, SQL expression suffix to select it)
_ARROW_TYPES: dict[str, tuple[str, str]] = {
    "text": ("string", ""),
    "character varying": ("string", ""),
    "jsonb": ("string", "::text"),
    "json": ("string", "::text"),
    "uuid": ("string", "::text"),
    "boolean": ("bool_", ""),
    "smallint": ("int32", ""),
    "integer": ("int32", ""),
    "bigint": ("int64", ""),
    "double precision": ("float64", ""),
    "real": ("float64", ""),
    "date": ("date32", ""),
    "timestamp with time zone": ("timestamp_utc", ""),
}


class ParquetLandingError(RuntimeError):
    pass


def _arrow_type(name: str):  # type: ignore[no-untyped-def]
    import pyarrow as pa

    if name == "timestamp_utc":
        return pa.timestamp("us", tz="UTC")
    return getattr(pa, name)()


def raw_tables(conn: psycopg.Connection, schema: str = "raw") -> dict[str, list[tuple[str, str]]]:
    """The schema's tables and their (column, Postgres type) in column order."""
    rows = conn.execute(
        """select c.table_name, c.column_name, c.data_type
           from information_schema.columns c
           join information_schema.tables t using (table_schema, table_name)
           where c.table_schema = %s and t.table_type = 'BASE TABLE'
           order by c.table_name, c.ordinal_position""",
        (schema,),
    ).fetchall()
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in rows:
        tables.setdefault(table, []).append((column, data_type))
    return tables


def land_raw_parquet(
    conn: psycopg.Connection,
    spark_dir: Path,
    schema: str = "raw",
    progress: Callable[[str, int], None] | None = None,
    batch_rows: int = BATCH_ROWS,
) -> dict[str, int]:
    """Write every table of `schema` to `<spark_dir>/<schema>/<table>/part-00000.parquet`; returns rows per table."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = raw_tables(conn, schema)
    if not tables:
        raise ParquetLandingError(f"the warehouse has no {schema} tables: load or extract some data first")
    spark_dir = Path(spark_dir)
    counts: dict[str, int] = {}
    for table, columns in tables.items():
        unknown = [f"{column} ({data_type})" for column, data_type in columns if data_type not in _ARROW_TYPES]
        if unknown:
            raise ParquetLandingError(f"{schema}.{table}: no Parquet type for {', '.join(unknown)}")
        arrow_schema = pa.schema(
            [pa.field(column, _arrow_type(_ARROW_TYPES[data_type][0])) for column, data_type in columns]
        )
        query = sql.SQL("select {} from {}.{}").format(
            sql.SQL(", ").join(
                sql.SQL(f"{{}}{_ARROW_TYPES[data_type][1]}").format(sql.Identifier(column))
                for column, data_type in columns
            ),
            sql.Identifier(schema),
            sql.Identifier(table),
        )
        folder = spark_dir / schema / table
        staging = folder.with_name(f".{table}.landing")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        rows = 0
        with conn.transaction(), conn.cursor(name=f"land_{table}") as cursor:  # a server-side cursor needs one
            cursor.execute(query)
            with pq.ParquetWriter(staging / "part-00000.parquet", arrow_schema) as writer:
                while batch := cursor.fetchmany(batch_rows):
                    writer.write_batch(
                        pa.RecordBatch.from_arrays(
                            [pa.array([row[i] for row in batch], type=f.type) for i, f in enumerate(arrow_schema)],
                            schema=arrow_schema,
                        )
                    )
                    rows += len(batch)
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
        counts[table] = rows
        if progress is not None:
            progress(table, rows)
    return counts
