"""The database the warehouse creates for itself: text in byte order (extract/warehouse.py WAREHOUSE_COLLATION)."""

from __future__ import annotations

import uuid

import psycopg

from extract.settings import Settings
from extract.warehouse import Target, Warehouse


def test_the_warehouse_creates_its_database_in_byte_order_and_an_app_database_with_the_servers_defaults(
    pg_server: Target,
) -> None:
    """Postgres 16 sorts text in any libc collation but "C" through strcoll() and without abbreviated keys, C.UTF-8
    included; the day's models sort and probe ids by the million. An app database the demo writes keeps the server's
    own collation, as a customer's would."""
    warehouse = Warehouse(Settings(warehouse_url=pg_server.with_db("postgres").url))
    names = {"warehouse": "wc_" + uuid.uuid4().hex[:10], "app": "wa_" + uuid.uuid4().hex[:10]}
    warehouse.ensure_database(names["warehouse"])
    warehouse.ensure_database(names["app"], collation=None)
    try:
        with psycopg.connect(pg_server.with_db("postgres").conninfo, autocommit=True) as conn:
            collations = dict(
                conn.execute(  # type: ignore[arg-type]
                    "select datname, datcollate from pg_database where datname = any(%s)", (list(names.values()),)
                ).fetchall()
            )
            default = conn.execute("select datcollate from pg_database where datname = 'template1'").fetchone()
        assert collations == {names["warehouse"]: "C", names["app"]: default[0]}  # type: ignore[index]
        with psycopg.connect(pg_server.with_db(names["warehouse"]).conninfo) as conn:
            ordered = conn.execute(
                "select string_agg(x, ' ' order by x) from (values ('b'), ('B'), ('é'), ('a'), ('Z')) v(x)"
            ).fetchone()
        assert ordered == ("B Z a b é",)  # by bytes: upper case first, then lower case, then what is not ASCII
        warehouse.ensure_database(names["warehouse"])  # it exists: nothing happens
    finally:
        for name in names.values():
            warehouse.drop_database(name)
