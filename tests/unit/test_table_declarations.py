"""The raw tables are declared once (extract/tables.py): the warehouse, the dbt sources and the GE suites agree."""

from __future__ import annotations

from pathlib import Path

import psycopg
import yaml

from extract.settings import PROJECT_ROOT
from extract.tables import APP_TABLES, STRIPE_TABLES
from orchestration.checks.suites import app_suites, stripe_suites

SOURCES = Path(PROJECT_ROOT) / "dbt_project" / "models" / "staging" / "_staging__sources.yml"


def test_the_warehouse_has_the_declared_columns(raw_conn: psycopg.Connection) -> None:
    for table in APP_TABLES.values():
        rows = raw_conn.execute(
            """select column_name, data_type, is_nullable = 'NO' from information_schema.columns
               where table_schema = 'raw' and table_name = %s and column_name not like '\\_%%'
               order by ordinal_position""",
            (f"app_{table.name}",),
        ).fetchall()
        expected = [
            (c.name, "timestamp with time zone" if c.type == "timestamptz" else c.type, c.required)
            for c in table.columns
        ]
        assert rows == expected, table.name
        key = raw_conn.execute(
            "select indexdef from pg_indexes where schemaname = 'raw' and indexname = %s", (f"app_{table.name}_key_uq",)
        ).fetchone()
        assert key is not None and f"({', '.join(table.key)})" in key[0]
    for name in STRIPE_TABLES:
        assert raw_conn.execute("select to_regclass(%s)", (f"raw.stripe_{name}",)).fetchone()[0] is not None


def test_dbt_sources_and_ge_suites_name_the_declared_tables() -> None:
    sources = {source["name"]: source for source in yaml.safe_load(SOURCES.read_text())["sources"]}
    app = {table["name"]: table for table in sources["app"]["tables"]}
    assert set(app) == {f"app_{name}" for name in APP_TABLES}
    for name, table in APP_TABLES.items():
        for column in app[f"app_{name}"].get("columns", []):
            declared = table.column(column["name"])  # every documented column is declared
            if "not_null" in (column.get("data_tests") or []):
                assert declared.required, (name, column["name"])
    assert {table["name"] for table in sources["stripe"]["tables"]} == {f"stripe_{name}" for name in STRIPE_TABLES}
    assert {suite.table for suite in app_suites("2025-01-01", "2026-01-01")} == {f"app_{n}" for n in APP_TABLES}
    assert {suite.table for suite in stripe_suites(tuple(STRIPE_TABLES), "2025-01-01", "2026-01-01")} == {
        f"stripe_{n}" for n in STRIPE_TABLES
    }


def test_a_warehouse_below_postgres_16_is_refused_clearly(raw_conn: psycopg.Connection) -> None:
    import types

    import pytest

    from extract.warehouse import WarehouseError, check_server_version

    check_server_version(raw_conn)  # the embedded server: 16
    old = types.SimpleNamespace(info=types.SimpleNamespace(server_version=150004))
    with pytest.raises(WarehouseError, match=r"runs Postgres 15\.4; execmetrics needs Postgres 16 or later"):
        check_server_version(old)  # type: ignore[arg-type]
