"""Bad data never stops a load or loses a row: the corpus of tests/integration/bad_data_cases.py, one case each,
through every path (app JSONL and CSV files, the app database, the Stripe dump, the Stripe API on localstripe).

Each case asserts: rows in raw + rows in raw._rejects = rows in the source (per the load's counts and in the
tables), every reject's reason names where (file and line, or database row) and what (column or field, problem),
and the other tables load exactly their good rows. One test then loads the whole corpus into one warehouse and
builds every dbt model on it: nothing a load accepted breaks the marts.
"""

from __future__ import annotations

import csv
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from extract.app.extractor import extract_app
from extract.app.sources import FileSource, open_source
from extract.demo.generator import _csv_value as csv_value
from extract.stripe.dump import load_dump
from extract.warehouse import Target, Warehouse
from orchestration.dbt_cli import run_dbt
from tests.conftest import throwaway_database
from tests.integration.bad_data_cases import (
    API_KINDS,
    GOOD_APP,
    GOOD_STRIPE,
    SQL_KINDS,
    AppCase,
    Raw,
    StripeCase,
    app_cases,
    dumps_raw,
    stripe_cases,
)
from tests.integration.test_app_extract import API, TENANTS

APP_CASES = app_cases()
STRIPE_CASES = stripe_cases()


def test_the_corpus_has_at_least_100_kinds() -> None:
    ids = [c.id for c in APP_CASES] + [c.id for c in STRIPE_CASES]
    ids += [f"sql:{i}" for i in range(len(SQL_KINDS))] + [f"api:{i}" for i in range(len(API_KINDS))]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 100, len(ids)


# ------------------------------------------------------------------------------------------------ writing sources


def _json_line(row: dict[str, Any]) -> str:
    """A JSONL line; Raw values go in as their text, ABSENT keys are left out."""
    return dumps_raw(row)


def _app_file(directory: Path, table: str, case: AppCase | None) -> int:
    """Write `table` (good rows, plus the case's additions when it is the case's table); returns its source rows."""
    good = GOOD_APP[table]
    fmt = case.fmt if case is not None and case.table == table else "jsonl"
    mine = case is not None and case.table == table
    path = directory / f"{table}.{fmt}"
    newline = "\r\n" if mine and case.crlf else "\n"  # type: ignore[union-attr]
    if fmt == "jsonl":
        lines = [_json_line(row) for row in good]
        if mine:
            lines += [_json_line(row) for row in case.rows] + list(case.lines)  # type: ignore[union-attr]
        text = "".join(line + newline for line in lines)
    else:
        columns = list(case.header) if mine and case.header else list(good[0])  # type: ignore[union-attr]
        rows = list(good) + (list(case.rows) if mine else [])  # type: ignore[union-attr]
        out: list[str] = []
        buffer = _Buffer()
        writer = csv.writer(buffer, lineterminator=newline)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([csv_value(row.get(name)) for name in columns])
        out.append(buffer.text)
        if mine:
            out += [line + newline for line in case.lines]  # type: ignore[union-attr]
        text = "".join(out)
    data = text.encode("utf-8")
    if mine and case.data is not None:  # type: ignore[union-attr]
        data += case.data  # type: ignore[union-attr]
    if mine and case.bom:  # type: ignore[union-attr]
        data = b"\xef\xbb\xbf" + data
    path.write_bytes(data)
    rows_in_source = len(good)
    if mine:
        added = [line for line in case.lines if line.strip()]  # type: ignore[union-attr]
        rows_in_source += len(case.rows) + len(added) + (case.data or b"").count(b"\n")  # type: ignore[union-attr]
    return rows_in_source


class _Buffer:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text


def _counts(conn: psycopg.Connection) -> dict[str, tuple[int, int]]:
    """(raw rows, rejects) per app table."""
    result = {}
    for table in GOOD_APP:
        raw = conn.execute(f"select count(*) from raw.app_{table}").fetchone()[0]  # type: ignore[index]
        rejects = conn.execute("select count(*) from raw._rejects where table_name = %s", (table,)).fetchone()[0]  # type: ignore[index]
        result[table] = (raw, rejects)
    return result


def _check_reasons(reasons: list[str], prefix: str, expect: tuple[str, ...]) -> None:
    assert len(reasons) == len(expect), reasons
    for reason, fragment in zip(reasons, expect, strict=True):
        assert re.match(prefix, reason), (prefix, reason)
        assert fragment in reason, (fragment, reason)


# ------------------------------------------------------------------------------------------------ app files


@pytest.mark.parametrize("case", APP_CASES, ids=[case.id for case in APP_CASES])
def test_app_file_case(case: AppCase, warehouse: Warehouse, raw_conn: psycopg.Connection, tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    rows = {table: _app_file(source, table, case) for table in GOOD_APP}

    result = extract_app(warehouse, FileSource(source))

    assert not result.failed
    mine = result.tables[case.table]
    expected_rejects = len(case.expect)
    assert mine.loaded + mine.unchanged + mine.rejected + mine.skipped_outside_window == rows[case.table]
    assert mine.skipped_outside_window == 0 and mine.rejected == expected_rejects
    counts = _counts(raw_conn)
    raw, rejects = counts[case.table]
    assert raw + rejects == rows[case.table], counts
    good_rows = 0 if case.header else len(GOOD_APP[case.table])
    assert raw == good_rows + case.loads
    reasons = [
        r[0]
        for r in raw_conn.execute(
            "select reason from raw._rejects where table_name = %s order by reject_id", (case.table,)
        ).fetchall()
    ]
    ext = re.escape(f"{case.table}.{case.fmt}")
    assert all(reason.strip() for reason in reasons)
    if case.header:  # the good rows are rejected too: the file lacks a required column
        _check_reasons(reasons, rf"^{ext}:\d+: ", case.expect)
        return
    _check_reasons(sorted(reasons, key=_line_of), rf"^{ext}:\d+: ", case.expect)
    first_added = len(GOOD_APP[case.table]) + (2 if case.fmt == "csv" else 1)
    assert all(_line_of(reason) >= first_added for reason in reasons), reasons
    for table, (table_raw, table_rejects) in counts.items():
        if table != case.table:
            assert (table_raw, table_rejects) == (len(GOOD_APP[table]), 0), table


def _line_of(reason: str) -> int:
    return int(reason.split(":")[1])


# ------------------------------------------------------------------------------------------------ app database


@pytest.fixture(scope="module")
def app_database(pg_server: Target) -> Iterator[Target]:
    with throwaway_database(pg_server, "app_corpus_" + uuid.uuid4().hex[:8]) as target:
        yield target


def _sql_schema(app_db: Target, index: int, column: str, sql_type: str, value: Any) -> str:
    """A schema in the app database holding tenants and api_requests: the good rows plus the case's row."""
    schema = f"case_{index}"
    types = {"status_code": "int", "duration_ms": "float8", "occurred_at": "timestamptz"}
    if column in types:
        types[column] = sql_type
    with psycopg.connect(app_db.conninfo, autocommit=True) as conn:
        conn.execute(f"drop schema if exists {schema} cascade")
        conn.execute(f"create schema {schema}")
        conn.execute(
            f"create table {schema}.tenants (id text, name text, plan text, created_at timestamptz,"
            " updated_at timestamptz, stripe_customer_id text, is_internal bool, deleted_at timestamptz)"
        )
        conn.execute(
            f"create table {schema}.api_requests (id text, tenant_id text, user_id text, method text, route text,"
            f" status_code {types['status_code']}, duration_ms {types['duration_ms']},"
            f" occurred_at {types['occurred_at']})"
        )
        for tenant in TENANTS:
            conn.execute(f"insert into {schema}.tenants values (%s, %s, %s, %s, %s, %s, %s, %s)", list(tenant.values()))
        rows = [dict(row) for row in API]
        bad = {**API[0], "id": "r_bad"}
        if column == "duplicate":
            bad = dict(API[0])
        else:
            bad[column] = value
        for row in [*rows, bad]:
            conn.execute(
                f"insert into {schema}.api_requests values (%s, %s, %s, %s, %s, %s, %s, %s)", list(row.values())
            )
    return schema


@pytest.mark.parametrize(
    ("index", "kind"), list(enumerate(SQL_KINDS)), ids=[f"sql:{k[0]}-{k[1]}-{k[2]!r}"[:40] for k in SQL_KINDS]
)
def test_app_database_case(
    index: int,
    kind: tuple[str, str, Any, str],
    warehouse: Warehouse,
    raw_conn: psycopg.Connection,
    app_database: Target,
) -> None:
    column, sql_type, value, fragment = kind
    schema = _sql_schema(app_database, index, column, sql_type, value)
    url = app_database.url + f"?options=-csearch_path%3D{schema}"

    result = extract_app(warehouse, open_source(url), tables=["tenants", "api_requests"])

    assert not result.failed
    mine = result.tables["api_requests"]
    source_rows = len(API) + 1
    assert mine.loaded + mine.unchanged + mine.rejected == source_rows and mine.rejected == 1
    counts = _counts(raw_conn)
    assert counts["api_requests"][0] + counts["api_requests"][1] == source_rows
    assert counts["tenants"] == (len(TENANTS), 0)
    [reason] = [r[0] for r in raw_conn.execute("select reason from raw._rejects").fetchall()]
    assert re.match(r"^api_requests row \d+: ", reason) and fragment in reason, reason


# ------------------------------------------------------------------------------------------------ Stripe dump


def _stripe_file(directory: Path, table: str, case: StripeCase | None) -> int:
    """Write one dump file (good objects, plus the case's when it is the case's file); returns its objects."""
    objects: list[Any] = list(GOOD_STRIPE[table])
    mine = case is not None and case.file == table
    if mine:
        objects += list(case.objects)  # type: ignore[union-attr]
    texts = [item.text if isinstance(item, Raw) else _json_line(item) for item in objects]
    if mine and case.json_file:  # type: ignore[union-attr]
        data = ('{"object": "list", "data": [' + ", ".join(texts) + "]}").encode()
        suffix = ".json"
    else:
        data = "".join(text + "\n" for text in texts).encode()
        suffix = ".jsonl"
    if mine and case.data is not None:  # type: ignore[union-attr]
        data += case.data  # type: ignore[union-attr]
    if mine and case.bom:  # type: ignore[union-attr]
        data = b"\xef\xbb\xbf" + data
    (directory / f"{table}{suffix}").write_bytes(data)
    return len(objects) + (case.data.count(b"\n") if mine and case.data else 0)  # type: ignore[union-attr]


def _stripe_counts(conn: psycopg.Connection) -> dict[str, tuple[int, int]]:
    kinds = {"customers": "customer", "plans": "plan", "invoices": "invoice"}
    result = {}
    for table, kind in kinds.items():
        raw = conn.execute(f"select count(*) from raw.stripe_{table}").fetchone()[0]  # type: ignore[index]
        rejects = conn.execute("select count(*) from raw._rejects where table_name = %s", (kind,)).fetchone()[0]  # type: ignore[index]
        result[table] = (raw, rejects)
    return result


@pytest.mark.parametrize("case", STRIPE_CASES, ids=[case.id for case in STRIPE_CASES])
def test_stripe_dump_case(case: StripeCase, raw_conn: psycopg.Connection, tmp_path: Path) -> None:
    dump = tmp_path / "dump"
    dump.mkdir()
    objects = {table: _stripe_file(dump, table, case) for table in GOOD_STRIPE}

    result = load_dump(raw_conn, dump)

    assert not result.failed
    counts = _stripe_counts(raw_conn)
    raw, rejects = counts[case.file]
    assert result.loaded.get(case.file, 0) + result.unchanged.get(case.file, 0) + result.rejected == objects[case.file]
    assert result.rejected == rejects == len(case.expect)
    assert raw == len(GOOD_STRIPE[case.file]) + case.loads
    assert raw + rejects + result.unchanged.get(case.file, 0) == objects[case.file]
    reasons = [r[0] for r in raw_conn.execute("select reason from raw._rejects order by reject_id").fetchall()]
    where = rf"^{case.file}\.json( item \d+|:\d+): " if case.json_file else rf"^{case.file}\.jsonl:\d+: "
    _check_reasons(reasons, where, case.expect)
    for table, table_counts in counts.items():
        if table != case.file:
            assert table_counts == (len(GOOD_STRIPE[table]), 0), table


def test_the_same_stripe_id_twice_keeps_the_later_one(raw_conn: psycopg.Connection, tmp_path: Path) -> None:
    [case] = [case for case in STRIPE_CASES if case.id == "dump:same-id-twice-other-content"]
    dump = tmp_path / "dump"
    dump.mkdir()
    _stripe_file(dump, "customers", case)
    first = load_dump(raw_conn, dump)
    again = load_dump(raw_conn, dump)
    versions = raw_conn.execute(
        "select payload->>'email' from raw.stripe_customers where id = 'cus_twice' order by _seq"
    ).fetchall()
    assert versions == [("second@b.test",)]  # the later line is the object's state
    assert (first.loaded["customers"], first.rejected) == (2, 1)  # the good customer, the later cus_twice
    assert (again.loaded.get("customers", 0), again.unchanged["customers"], again.rejected) == (0, 2, 1)
    assert raw_conn.execute("select count(*) from raw._rejects").fetchone()[0] == 1  # recorded once


# ------------------------------------------------------------------------------------------------ the marts


def test_the_marts_build_after_the_whole_corpus(
    warehouse: Warehouse, raw_conn: psycopg.Connection, pg_target: Target, app_database: Target, tmp_path: Path
) -> None:
    """Everything the corpus lets through, loaded into one warehouse: every dbt model builds on it."""
    for number, case in enumerate(APP_CASES):
        source = tmp_path / f"app{number}"
        source.mkdir()
        for table in GOOD_APP:
            _app_file(source, table, case)
        assert not extract_app(warehouse, FileSource(source)).failed, case.id
    for index, kind in enumerate(SQL_KINDS):
        schema = _sql_schema(app_database, index, *kind[:3])
        url = app_database.url + f"?options=-csearch_path%3D{schema}"
        assert not extract_app(warehouse, open_source(url), tables=["tenants", "api_requests"]).failed
    for number, stripe_case in enumerate(STRIPE_CASES):
        dump = tmp_path / f"dump{number}"
        dump.mkdir()
        for table in GOOD_STRIPE:
            _stripe_file(dump, table, stripe_case)
        assert not load_dump(raw_conn, dump).failed, stripe_case.id
    rejects = raw_conn.execute("select count(*) from raw._rejects").fetchone()[0]  # type: ignore[index]
    assert rejects > 150  # (the same record with the same reason, as in several cases, is recorded once)

    result = run_dbt(
        ["build", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test", "--quiet"],
        pg_target,
        target_path=tmp_path / "target",
    )
    # exposures (the dashboards, the board pack) are reported as no-op: nothing to build
    built = [node for node in result.result.results if str(node.status) in ("success", "no-op")]
    others = [
        f"{node.node.unique_id}: {node.status} {node.message}" for node in result.result.results if node not in built
    ]
    assert built and not others, others
    marts = raw_conn.execute("select count(*) from information_schema.tables where table_schema = 'marts'").fetchone()[
        0
    ]  # type: ignore[index]
    assert marts >= 10
