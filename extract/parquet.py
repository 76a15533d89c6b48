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
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

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
    "xid8": ("int64", "::text::bigint"),  # raw._batches.xact: a transaction id (64 bits, never past 2^63 in practice)
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


# ------------------------------------------------------------------------------------------------ publishing

# Arrow type id -> the Postgres type of a column read from a Spark table's Parquet (a model without a contract; a
# model with one gets its contract's types). Spark writes its TIMESTAMP as an instant (the session timezone is UTC).
_POSTGRES_TYPES: dict[str, str] = {
    "string": "text",
    "large_string": "text",
    "bool": "boolean",
    "int8": "smallint",
    "int16": "smallint",
    "int32": "integer",
    "int64": "bigint",
    "float": "real",
    "double": "double precision",
    "date32[day]": "date",
}


def postgres_type(arrow_type: object) -> str:
    """The Postgres type for an Arrow column type; ParquetLandingError for one not mapped here."""
    import pyarrow as pa

    if pa.types.is_decimal(arrow_type):
        return "numeric"
    if pa.types.is_timestamp(arrow_type):
        return "timestamptz"
    if pa.types.is_list(arrow_type):
        return postgres_type(arrow_type.value_type) + "[]"  # type: ignore[attr-defined]
    name = str(arrow_type)
    if name not in _POSTGRES_TYPES:
        raise ParquetLandingError(f"no Postgres type for the Parquet type {name}")
    return _POSTGRES_TYPES[name]


def spark_table_folder(spark_dir: Path, schema: str, table: str) -> Path:
    """Where the `spark` target (profiles.yml: spark.sql.warehouse.dir = <SPARK_DIR>/warehouse) keeps a table."""
    return Path(spark_dir) / "warehouse" / f"{schema}.db" / table


def publish_spark_table(
    conn: psycopg.Connection,
    spark_dir: Path,
    schema: str,
    table: str,
    contract: list[tuple[str, str]] | None = None,
    batch_rows: int = BATCH_ROWS,
    indexes: Sequence[Mapping[str, Any]] = (),
) -> int:
    """Copy one table the `spark` target built into the Postgres warehouse, replacing it, in one transaction; returns
    its rows. `contract`: the model's (column, Postgres type) when it has one, else the types follow the Parquet
    schema (`postgres_type`). `indexes`: the model's dbt `indexes` config (`columns`, `unique`, `type`), created as
    dbt-postgres creates them, so the dashboards' filters find the same indexes as after a Postgres build (a unique
    one the rows break fails the publishing). The replaced table gets its grants and policies back
    (`access.after_build`, as dbt's post-hook does), so the readers see it only with them."""
    import datetime as dt

    import pyarrow as pa
    import pyarrow.dataset as ds

    from extract.warehouse import create_schema_sql

    folder = spark_table_folder(spark_dir, schema, table)
    if not folder.is_dir():
        raise ParquetLandingError(f"{schema}.{table}: the Spark build left no table at {folder}")
    # partition columns (a folder name such as day=2025-11-03) are read as text; the contract gives their type
    partitioning = ds.HivePartitioning.discover(infer_dictionary=False, max_partition_dictionary_size=0)
    dataset = ds.dataset(folder, format="parquet", partitioning=partitioning)
    arrow_columns = {field.name: field.type for field in dataset.schema}
    partitioned = sorted({p.name.split("=", 1)[0] for p in folder.iterdir() if p.is_dir() and "=" in p.name})
    if contract is not None:
        if not dataset.files:  # Spark wrote an empty table as no file at all
            arrow_columns = {}
        elif sorted(name for name, _ in contract) != sorted(arrow_columns):
            raise ParquetLandingError(
                f"{schema}.{table}: the Spark table's columns {sorted(arrow_columns)} are not its contract's"
                f" {sorted(name for name, _ in contract)}"
            )
        columns = list(contract)
    elif partitioned:
        raise ParquetLandingError(
            f"{schema}.{table}: partitioned by {', '.join(partitioned)} without a contract: its type is unknown"
        )
    elif not dataset.files:
        raise ParquetLandingError(f"{schema}.{table}: no Parquet file and no contract: its columns are unknown")
    else:
        columns = [(name, postgres_type(kind)) for name, kind in arrow_columns.items()]
    instants = {name for name, kind in arrow_columns.items() if pa.types.is_timestamp(kind)}
    decimals = {name for name, kind in arrow_columns.items() if pa.types.is_decimal(kind)}
    names = [name for name, _ in columns]
    target = sql.Identifier(schema, table)
    rows = 0
    with conn.transaction():
        conn.execute(create_schema_sql(schema))  # type: ignore[arg-type]
        conn.execute(sql.SQL("drop table if exists {}").format(target))
        conn.execute(
            sql.SQL("create table {} ({})").format(
                target,
                sql.SQL(", ").join(
                    sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind)) for name, kind in columns
                ),
            )
        )
        copy_sql = sql.SQL("copy {} ({}) from stdin").format(target, sql.SQL(", ").join(map(sql.Identifier, names)))
        with conn.cursor() as cursor, cursor.copy(copy_sql) as copy:
            for batch in dataset.to_batches(columns=names, batch_size=batch_rows) if dataset.files else []:
                values = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
                for index, name in enumerate(names):
                    if name in instants:  # Spark's TIMESTAMP: UTC instants, read back without a zone
                        values[index] = [
                            v.replace(tzinfo=dt.UTC) if v is not None and v.tzinfo is None else v for v in values[index]
                        ]
                    elif name in decimals:  # Spark's decimal(38, 12): 0.050000000000 published as 0.05
                        values[index] = [None if v is None else format(v.normalize(), "f") for v in values[index]]
                for row in zip(*values, strict=True):
                    copy.write_row(row)
                rows += batch.num_rows
        for declared in indexes:
            conn.execute(
                sql.SQL("create {}index on {} using {} ({})").format(
                    sql.SQL("unique " if declared.get("unique") else ""),
                    target,
                    sql.Identifier(declared.get("type") or "btree"),
                    sql.SQL(", ").join(map(sql.Identifier, declared["columns"])),
                )
            )
        secured = conn.execute(
            "select case when to_regprocedure('access.after_build(text, text)') is null then false"
            " else has_function_privilege('access.after_build(text, text)', 'execute') end"
        ).fetchone()
        if secured is not None and secured[0]:
            conn.execute("select access.after_build(%s, %s)", (schema, table))
    return rows
