"""The raw tables are declared once (extract/tables.py): the warehouse, the dbt sources and the GE suites agree."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
import yaml

from extract.settings import PROJECT_ROOT
from extract.tables import APP_TABLES, STRIPE_TABLES, AppTable
from orchestration.checks.suites import Rule, app_suites, stripe_suites

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
        index, columns = table.key_index
        key = raw_conn.execute(
            "select indexdef from pg_indexes where schemaname = 'raw' and indexname = %s", (index,)
        ).fetchone()
        assert key is not None and f"({', '.join(columns)})" in key[0]
        assert set(columns) == set(table.key)
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
    assert {suite.table for suite in stripe_suites(tuple(STRIPE_TABLES), "2026-01-01")} == {
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


def test_the_ge_suites_leave_each_app_key_to_its_unique_index(raw_conn: psycopg.Connection) -> None:
    """The app suites do not re-check a key's uniqueness because raw refuses a second row with the key: each app
    table has a unique index on exactly its key, and a duplicate is refused."""
    unique_keys = {
        table: tuple(columns)
        for table, columns in raw_conn.execute(
            """select c.relname, array_agg(a.attname order by k.ord)
               from pg_index i
               join pg_class c on c.oid = i.indrelid
               join pg_namespace n on n.oid = c.relnamespace and n.nspname = 'raw'
               cross join lateral unnest(i.indkey) with ordinality k(attnum, ord)
               join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum
               where i.indisunique and i.indpred is null
               group by c.relname, i.indexrelid"""
        ).fetchall()
    }
    for name, table in APP_TABLES.items():
        assert unique_keys.get(f"app_{name}") == table.key_index[1], name
    for suite in app_suites("2025-01-01", "2026-01-01"):
        assert not [rule for rule in suite.rules if "Unique" in rule.expectation], suite.table
    # the index refuses what the dropped check would have found
    row = (
        "insert into raw.app_events (id, tenant_id, event_type, occurred_at, _batch_id)"
        " values ('e1', 't1', 'x', '2025-03-01T00:00:00Z', 'b')"
    )
    raw_conn.execute(row)
    with pytest.raises(psycopg.errors.UniqueViolation):
        raw_conn.execute(row)


def enforced_by_load(table: AppTable, rule: Rule) -> str | None:
    """Why the app extractor makes this GE rule pass on every row it loads (None: it does not)."""
    kwargs = rule.kwargs
    if "column" not in kwargs:
        return None  # a table rule (the row-count band)
    column = table.column(kwargs["column"])
    if rule.expectation == "ExpectColumnValuesToNotBeNull" and column.required:
        return f"{column.name} is required"
    if rule.expectation == "ExpectColumnValuesToBeInSet" and column.allowed:
        return (
            f"{column.name} must be one of {column.allowed}"
            if set(column.allowed) <= set(kwargs["value_set"])
            else None
        )
    if rule.expectation == "ExpectColumnValuesToBeBetween":
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        if (low is None or (column.minimum is not None and column.minimum >= low)) and (
            high is None or (column.maximum is not None and column.maximum <= high)
        ):
            return f"{column.name} is within its declared bounds"
    return None


def test_the_ge_suites_check_only_what_the_load_does_not_enforce() -> None:
    """A GE rule the load already enforces cannot fail and costs a query over the batch every partition run: the app
    suites hold none (a required column, an allowed value, a declared bound), and each batch selects only the columns
    its rules read."""
    suites = {suite.table: suite for suite in app_suites("2025-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00")}
    for name, table in APP_TABLES.items():
        suite = suites[f"app_{name}"]
        assert suite.rules, name
        assert [
            (rule.why, enforced_by_load(table, rule)) for rule in suite.rules if enforced_by_load(table, rule)
        ] == []
        read = {rule.kwargs["column"] for rule in suite.rules if "column" in rule.kwargs}
        assert {column.strip() for column in suite.select.split(",")} == read, name
    # what is left can fail: the moments before the founding, the event types and methods the load keeps
    events, requests = suites["app_events"], suites["app_api_requests"]
    assert {rule.kwargs.get("column") for rule in events.rules} == {"occurred_at", "event_type"}
    assert {rule.kwargs.get("column") for rule in requests.rules} == {"occurred_at", "method"}
    # the helper tells an enforced rule: the rules these suites dropped
    from orchestration.checks.suites import _in_set

    assert enforced_by_load(APP_TABLES["events"], Rule("ExpectColumnValuesToNotBeNull", {"column": "tenant_id"}))
    assert enforced_by_load(APP_TABLES["jobs"], _in_set("status", APP_TABLES["jobs"].column("status").allowed))
    minimum = Rule("ExpectColumnValuesToBeBetween", {"column": "duration_ms", "min_value": 0})
    assert enforced_by_load(APP_TABLES["api_requests"], minimum)
    status = Rule("ExpectColumnValuesToBeBetween", {"column": "status_code", "min_value": 100, "max_value": 599})
    assert enforced_by_load(APP_TABLES["api_requests"], status)
    assert not enforced_by_load(
        APP_TABLES["api_requests"], Rule(status.expectation, {**status.kwargs, "max_value": 499})
    )
    assert not enforced_by_load(APP_TABLES["events"], _in_set("event_type", ("login",), "warning"))


def test_the_stripe_suites_leave_to_the_loader_what_it_judges() -> None:
    """The Stripe loader rejects a declared field of the wrong type, an unknown status or currency, a negative amount
    and, where a type declares it, a `created` in the future: the Stripe suites check only `created` as stored, which
    can fail for a type that does not declare it."""
    now = "2026-01-01T00:00:00+00:00"
    for suite in stripe_suites(tuple(STRIPE_TABLES), now):
        assert suite.select == "created", suite.table
        assert [(rule.expectation, rule.kwargs) for rule in suite.rules] == [
            ("ExpectColumnValuesToBeBetween", {"column": "created", "max_value": now})
        ], suite.table
    judged = {
        name for name, spec in STRIPE_TABLES.items() if any(f.name == "created" and f.not_future for f in spec.fields)
    }
    assert set(STRIPE_TABLES) - judged == {"invoiceitems"}


def test_every_ge_suite_has_a_column_rule_to_count_its_batch() -> None:
    """The check step reports each batch's rows as GX counted them for a column rule (orchestration/checks/ge.py)."""
    suites = app_suites("2025-01-01", "2026-01-01") + stripe_suites(tuple(STRIPE_TABLES), "2026-01-01")
    assert [suite.table for suite in suites if not any("column" in rule.kwargs for rule in suite.rules)] == []


class _Returned(Exception):  # noqa: N818 - dbt's `return()` ends a macro by raising its value
    def __init__(self, value: object) -> None:
        self.value = value


def test_the_late_row_rule_reads_each_tables_watermark() -> None:
    """dbt's late-row rule (macros/late_rows.sql) names the column each load's window is cut on; it cannot import
    extract/tables.py, so it is held to AppTable.watermark here."""
    import jinja2

    def returned(value: object) -> None:
        raise _Returned(value)

    def refused(message: str) -> None:
        raise ValueError(message)

    env = jinja2.Environment(extensions=["jinja2.ext.do"])
    exceptions = type("Exceptions", (), {"raise_compiler_error": staticmethod(refused)})
    env.globals.update({"return": returned, "exceptions": exceptions})
    macros = env.from_string((Path(PROJECT_ROOT) / "dbt_project" / "macros" / "late_rows.sql").read_text()).module

    def watermark(table: str) -> object:
        try:
            macros.late_rows_watermark(table)
        except _Returned as done:
            return done.value
        raise AssertionError(f"late_rows_watermark('{table}') returned nothing")

    for table in ("events", "api_requests", "jobs"):
        assert watermark(table) == APP_TABLES[table].watermark, table
    with pytest.raises(ValueError, match="no late-row rule"):
        watermark("tenants")
