"""The warehouse a benchmark loads into: WAREHOUSE_URL if set, else a throw-away embedded Postgres."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from extract.settings import Settings
from extract.warehouse import EmbeddedServer, Target, Warehouse


@contextmanager
def bench_warehouse(work: Path, port: int) -> Iterator[tuple[Warehouse, Target]]:
    server = None
    if os.environ.get("WAREHOUSE_URL"):
        target = Target.from_url(os.environ["WAREHOUSE_URL"])
    else:
        server = EmbeddedServer(work / "pg", port)
        server.start()
        target = Target("127.0.0.1", server.port, "postgres", "", "postgres")
    try:
        yield Warehouse(Settings(warehouse_url=target.url.replace("+psycopg", ""))), target
    finally:
        if server is not None:
            server.stop()


def company_warehouse(
    base: Warehouse, company: Any, work: Path, db: str, app_db: str, *, reuse: bool = False
) -> tuple[dict[str, int], Settings]:
    """Point the pipeline at `company`: its app tables COPYed into database `app_db` (streamed), its Stripe history
    as a dump under `work`, an empty warehouse database `db` (both dropped first), a new DAGSTER_HOME. `reuse`: the
    app database and the dump an earlier call left are kept, not generated again. Returns the app rows per table and
    the bench's Settings (the base's with these databases and sources), which the bench hands to every run."""
    import shutil

    from psycopg import connect

    from extract.demo.generator import APP_TABLES
    from extract.warehouse import ensure_raw_schema

    if reuse:
        with connect(base.target.with_db(app_db).conninfo) as conn:  # the tables write_app_database wrote
            counts = {table: conn.execute(f"select count(*) from {table}").fetchone()[0] for table in APP_TABLES}  # type: ignore[index]
    else:
        base.drop_database(app_db)
        base.ensure_database(app_db, collation=None)  # an app's database: the server's defaults
        counts = company.write_app_database(base.target.with_db(app_db).conninfo)
        company.write_stripe_dump(work / "stripe")
    base.drop_database(db)
    base.ensure_database(db)
    shutil.rmtree(work / "dagster_home", ignore_errors=True)
    settings = company_settings(base, company, work, db, app_db)
    with Warehouse(settings).connect() as conn:
        ensure_raw_schema(conn)
    return counts, settings


def company_settings(base: Warehouse, company: Any, work: Path, db: str, app_db: str) -> Settings:
    """The bench's Settings for `company_warehouse`'s databases and `work` folder (also to reuse them later)."""
    return base.settings.model_copy(
        update={
            "warehouse_url": base.target.with_db(db).url.replace("+psycopg", ""),
            "app_database_url": base.target.with_db(app_db).url,
            "app_source_dir": None,
            "stripe_dump_dir": work / "stripe",
            "stripe_api_key": None,
            "dagster_home": work / "dagster_home",
            "output_dir": work / "out",
            "partitions_start_date": company.start,
            "company_founded_date": company.start,
        }
    )
