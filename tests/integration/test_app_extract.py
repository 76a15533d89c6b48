"""The app extractor against a real Postgres: rejects, idempotency, windows, file and database sources."""

from __future__ import annotations

import csv
import gc
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from extract.app import extractor, sources
from extract.app.extractor import extract_app
from extract.app.sources import FileSource, SourceError, open_source
from extract.demo.generator import _csv_value as csv_value
from extract.settings import Settings
from extract.tables import AppTable
from extract.warehouse import Target, Warehouse
from tests.conftest import throwaway_database

T0 = datetime(2025, 3, 1, tzinfo=UTC)

TENANTS = [
    {
        "id": "t1",
        "name": "Acme",
        "plan": "growth",
        "created_at": "2025-01-05T10:00:00Z",
        "updated_at": "2025-01-05T10:00:00Z",
        "stripe_customer_id": "cus_1",
        "is_internal": False,
        "deleted_at": None,
    },
    {
        "id": "t2",
        "name": "Globex",
        "plan": "starter",
        "created_at": "2025-02-01T09:00:00+01:00",
        "updated_at": "2025-02-10T09:00:00+01:00",
        "stripe_customer_id": None,
        "is_internal": True,
        "deleted_at": None,
    },
]
USERS = [
    {
        "id": "u1",
        "tenant_id": "t1",
        "email": "a@acme.test",
        "created_at": "2025-01-05T10:00:00Z",
        "updated_at": "2025-01-05T10:00:00Z",
        "last_login_at": None,
        "is_staff": False,
        "deleted_at": None,
    },
]
JOBS = [
    {
        "id": "j1",
        "tenant_id": "t1",
        "job_type": "export",
        "status": "succeeded",
        "created_at": "2025-03-01T01:00:00Z",
        "started_at": "2025-03-01T01:00:05Z",
        "finished_at": "2025-03-01T01:00:35Z",
        "updated_at": "2025-03-01T01:00:35Z",
        "error": None,
    },
]
EVENTS = [
    {
        "id": "e1",
        "tenant_id": "t1",
        "user_id": "u1",
        "event_type": "login",
        "occurred_at": "2025-03-01T08:00:00Z",
        "properties": {"ua": "x"},
    },
    {
        "id": "e2",
        "tenant_id": "t1",
        "user_id": "u1",
        "event_type": "brand_new_type",
        "occurred_at": "2025-03-02T08:00:00Z",
        "properties": None,
    },
]
API = [
    {
        "id": f"r{i}",
        "tenant_id": "t1",
        "user_id": "u1",
        "method": "GET",
        "route": "/v1/reports",
        "status_code": 200,
        "duration_ms": 12.5 + i,
        "occurred_at": f"2025-03-0{1 + i % 3}T12:00:00Z",
    }
    for i in range(6)
]

# One malformed row of each kind, with the reason the extractor must give.
BAD_ROWS = {
    "users": [
        (
            {"id": "u9", "tenant_id": "t404", "updated_at": "2025-01-05T10:00:00Z", "is_staff": False},
            "tenant_id: unknown tenant 't404'",
        )
    ],
    "jobs": [
        (
            {"id": "j9", "tenant_id": "t1", "status": "exploded", "updated_at": "2025-03-01T00:00:00Z"},
            "status: 'exploded' is not one of",
        ),
        (
            {"id": "j8", "tenant_id": "t1", "status": "failed", "updated_at": "yesterday-ish"},
            "updated_at: invalid input syntax for type timestamp with time zone",
        ),
    ],
    "events": [
        ({"id": "", "tenant_id": "t1", "event_type": "login", "occurred_at": "2025-03-01T08:00:00Z"}, "id: missing"),
        (
            {"id": "e9", "tenant_id": "t1", "event_type": "login", "occurred_at": "31/02/2025"},
            "occurred_at: date/time field value out of range",
        ),
        (
            {"id": "e8", "tenant_id": "t1", "event_type": None, "occurred_at": "2025-03-01T08:00:00Z"},
            "event_type: missing",
        ),
    ],
    "api_requests": [
        (
            {
                "id": "r9",
                "tenant_id": "t1",
                "status_code": "two hundred",
                "duration_ms": 1,
                "occurred_at": "2025-03-01T08:00:00Z",
            },
            "status_code: invalid input syntax for type integer",
        ),
        (
            {
                "id": "r8",
                "tenant_id": "t1",
                "status_code": 200,
                "duration_ms": "fast",
                "occurred_at": "2025-03-01T08:00:00Z",
            },
            "duration_ms: invalid input syntax for type double precision",
        ),
    ],
}


def write_jsonl(directory: Path, tables: dict[str, list[dict]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for table, rows in tables.items():
        with (directory / f"{table}.jsonl").open("w") as handle:
            for row in rows:
                handle.write(json.dumps(row) + "\n")
    return directory


def good_tables() -> dict[str, list[dict]]:
    return {"tenants": TENANTS, "users": USERS, "jobs": JOBS, "events": EVENTS, "api_requests": API}


def raw_fingerprint(conn: psycopg.Connection) -> dict[str, tuple[int, str]]:
    """Row count and a checksum of the business columns of every raw app table and of the rejects."""
    result = {}
    for table, columns in {
        "app_tenants": "id, updated_at, name, is_internal",
        "app_users": "id, updated_at, tenant_id",
        "app_jobs": "id, updated_at, status",
        "app_events": "id, occurred_at, event_type, properties",
        "app_api_requests": "id, occurred_at, status_code, duration_ms",
        "_rejects": "table_name, reason, record",
    }.items():
        row = conn.execute(
            f"select count(*), coalesce(md5(string_agg(t::text, '|' order by t::text)), '')"
            f" from (select {columns} from raw.{table}) t"
        ).fetchone()
        result[table] = (row[0], row[1])
    return result


def test_good_rows_load_with_types(warehouse: Warehouse, raw_conn: psycopg.Connection, tmp_path: Path) -> None:
    result = extract_app(warehouse, FileSource(write_jsonl(tmp_path / "src", good_tables())))
    assert {name: r.loaded for name, r in result.tables.items()} == {
        "tenants": 2,
        "users": 1,
        "jobs": 1,
        "events": 2,
        "api_requests": 6,
    }
    assert result.rejected == 0
    created = raw_conn.execute("select created_at from raw.app_tenants where id = 't2'").fetchone()[0]
    assert created == datetime(2025, 2, 1, 8, 0, tzinfo=UTC)  # +01:00 normalised
    props = raw_conn.execute("select properties from raw.app_events where id = 'e1'").fetchone()[0]
    assert props == {"ua": "x"}
    # Unknown event types are kept, not rejected.
    assert raw_conn.execute("select event_type from raw.app_events where id = 'e2'").fetchone()[0] == "brand_new_type"
    watermark = raw_conn.execute(
        "select watermark from raw._watermarks where source = 'app' and table_name = 'api_requests'"
    ).fetchone()[0]
    assert watermark == datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
    # Each row carries its batch and the time its batch was loaded (the column default, the transaction's start).
    stamps = raw_conn.execute(
        "select distinct r._batch_id, r._extracted_at = b.started_at and b.finished_at >= b.started_at"
        " from raw.app_api_requests r join raw._batches b on b.batch_id = r._batch_id || ':api_requests'"
    ).fetchall()
    assert stamps == [(result.batch_id, True)]


def test_each_kind_of_bad_row_lands_in_rejects_with_its_reason(
    warehouse: Warehouse, raw_conn: psycopg.Connection, tmp_path: Path
) -> None:
    tables = good_tables()
    for table, bad in BAD_ROWS.items():
        tables[table] = tables[table] + [row for row, _ in bad]
    source = write_jsonl(tmp_path / "src", tables)
    with (source / "events.jsonl").open("a") as handle:
        handle.write("{not json\n")
    result = extract_app(warehouse, FileSource(source))

    expected_bad = sum(len(bad) for bad in BAD_ROWS.values()) + 1
    assert result.rejected == expected_bad
    rejects = raw_conn.execute("select table_name, reason, record from raw._rejects").fetchall()
    assert len(rejects) == expected_bad
    for table, bad in BAD_ROWS.items():
        for row, reason in bad:
            matching = [r for r in rejects if r[0] == table and reason in r[1] and json.loads(r[2])["id"] == row["id"]]
            assert matching, f"no reject for {table} {row['id']!r} with reason {reason!r}: {rejects}"
    assert any(
        r[0] == "events" and r[1].startswith("events.jsonl:6: not valid JSON") and r[2] == "{not json" for r in rejects
    )
    # Each reason names the file and line, then the column and the problem.
    assert all(r[1].startswith(f"{r[0]}.jsonl:") for r in rejects)
    # The good rows loaded all the same.
    assert raw_conn.execute("select count(*) from raw.app_events").fetchone()[0] == len(EVENTS)
    assert raw_conn.execute("select count(*) from raw.app_api_requests").fetchone()[0] == len(API)


def test_same_window_twice_changes_nothing(warehouse: Warehouse, raw_conn: psycopg.Connection, tmp_path: Path) -> None:
    tables = good_tables()
    tables["events"] = tables["events"] + [row for row, _ in BAD_ROWS["events"]]
    source = FileSource(write_jsonl(tmp_path / "src", tables))
    window = {"start": T0, "end": datetime(2025, 3, 3, tzinfo=UTC)}
    first = extract_app(warehouse, source, **window)
    before = raw_fingerprint(raw_conn)
    second = extract_app(warehouse, source, **window)
    assert raw_fingerprint(raw_conn) == before
    assert first.tables["api_requests"].loaded == 4  # 2025-03-01 and 02
    assert second.tables["api_requests"].loaded == 0 and second.tables["api_requests"].unchanged == 4
    assert (
        first.tables["api_requests"].skipped_outside_window == second.tables["api_requests"].skipped_outside_window == 2
    )
    assert second.tables["events"].rejected == first.tables["events"].rejected == len(BAD_ROWS["events"])


def test_incremental_run_picks_up_late_rows_without_duplicates(
    warehouse: Warehouse, raw_conn: psycopg.Connection, tmp_path: Path
) -> None:
    tables = good_tables()
    extract_app(warehouse, FileSource(write_jsonl(tmp_path / "a", tables)))
    late = {
        "id": "r_late",
        "tenant_id": "t1",
        "user_id": None,
        "method": "POST",
        "route": "/v1/x",
        "status_code": 503,
        "duration_ms": 900.0,
        "occurred_at": "2025-03-02T23:00:00Z",
    }  # before the watermark, within the lookback
    tables["api_requests"] = API + [late]
    result = extract_app(warehouse, FileSource(write_jsonl(tmp_path / "b", tables)))
    ids = [r[0] for r in raw_conn.execute("select id from raw.app_api_requests order by id")]
    assert ids == sorted([row["id"] for row in API] + ["r_late"])
    assert result.tables["api_requests"].window[0] == datetime(2025, 3, 1, 12, 0, tzinfo=UTC)  # watermark - 48 h


def test_versions_of_mutable_rows_are_kept(warehouse: Warehouse, raw_conn: psycopg.Connection, tmp_path: Path) -> None:
    tables = good_tables()
    extract_app(warehouse, FileSource(write_jsonl(tmp_path / "a", tables)))
    tables["tenants"] = [{**TENANTS[0], "plan": "enterprise", "updated_at": "2025-03-05T00:00:00Z"}, TENANTS[1]]
    extract_app(warehouse, FileSource(write_jsonl(tmp_path / "b", tables)), full_refresh=True)
    versions = raw_conn.execute("select plan from raw.app_tenants where id = 't1' order by updated_at").fetchall()
    assert [v[0] for v in versions] == ["growth", "enterprise"]


def test_csv_source_and_missing_column_error(
    warehouse: Warehouse, raw_conn: psycopg.Connection, tmp_path: Path
) -> None:
    source = write_jsonl(tmp_path / "src", {k: v for k, v in good_tables().items() if k != "api_requests"})
    with (source / "api_requests.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(API[0]))
        writer.writeheader()
        writer.writerows(API)
    result = extract_app(warehouse, open_source(source))
    assert result.tables["api_requests"].loaded == len(API)
    assert raw_conn.execute("select sum(duration_ms) from raw.app_api_requests").fetchone()[0] == pytest.approx(
        sum(row["duration_ms"] for row in API)
    )

    # A required column missing from a file: every row is rejected with the column's name, nothing aborts.
    broken = tmp_path / "broken"
    write_jsonl(broken, {"tenants": [{k: v for k, v in TENANTS[0].items() if k != "updated_at"}]})
    result = extract_app(warehouse, FileSource(broken), tables=["tenants"])
    assert result.tables["tenants"].rejected == 1 and not result.failed
    assert raw_conn.execute("select reason from raw._rejects where table_name = 'tenants'").fetchall() == [
        ("tenants.jsonl:1: updated_at: missing",)
    ]
    with pytest.raises(SourceError, match="does not exist"):
        FileSource(tmp_path / "nowhere")


def test_database_source_by_sqlalchemy_url(
    warehouse: Warehouse, raw_conn: psycopg.Connection, pg_server: Target, tmp_path: Path
) -> None:
    name = "app_src_" + tmp_path.name.replace("-", "_")[-20:].lower()
    with throwaway_database(pg_server, name) as app_db:
        with psycopg.connect(app_db.conninfo, autocommit=True) as conn:
            conn.execute(
                "create table tenants (id text primary key, name text, plan text, created_at timestamptz,"
                " updated_at timestamptz, stripe_customer_id text, is_internal bool, deleted_at timestamptz,"
                " extra_column int)"
            )
            conn.execute(
                "create table api_requests (id text primary key, tenant_id text, user_id text, method text,"
                " route text, status_code int, duration_ms float8, occurred_at timestamptz)"
            )
            conn.execute(
                "insert into tenants values ('t1','Acme','growth','2025-01-01','2025-01-01',null,false,null,7)"
            )
            conn.execute(
                "insert into api_requests values ('r1','t1',null,'GET','/a',200,5,'2025-03-01 10:00+00'),"
                " ('r2','t1',null,'GET','/a',500,7,'2025-03-05 10:00+00'), ('r3','t1',null,'GET','/a',200,"
                " 9, null)"
            )
        url = app_db.url
        result = extract_app(
            warehouse,
            open_source(url),
            tables=["tenants", "api_requests"],
            start=T0,
            end=datetime(2025, 3, 2, tzinfo=UTC),
        )
        assert result.tables["api_requests"].loaded == 1
        assert result.tables["api_requests"].rejected == 1  # r3: no occurred_at, so it cannot be windowed
        assert raw_conn.execute("select id from raw.app_api_requests").fetchall() == [("r1",)]
        reason = raw_conn.execute("select reason from raw._rejects").fetchone()[0]
        assert reason.startswith("api_requests row ") and reason.endswith(": occurred_at: missing")


@contextmanager
def app_database_with_a_tenant(pg_server: Target, prefix: str, tmp_path: Path) -> Iterator[Target]:
    """A throw-away app database with the contract's tenants table and one tenant, t1."""
    with throwaway_database(pg_server, prefix + tmp_path.name.replace("-", "_")[-20:].lower()) as app_db:
        with psycopg.connect(app_db.conninfo, autocommit=True) as conn:
            conn.execute(
                "create table tenants (id text primary key, name text, plan text, created_at timestamptz,"
                " updated_at timestamptz, stripe_customer_id text, is_internal bool, deleted_at timestamptz)"
            )
            conn.execute("insert into tenants values ('t1','Acme','growth','2025-01-01','2025-01-01',null,false,null)")
        yield app_db


def test_a_database_that_fails_partway_through_a_table_fails_that_table_alone(
    warehouse: Warehouse, raw_conn: psycopg.Connection, pg_server: Target, tmp_path: Path
) -> None:
    """The app database streams 30,000 rows of api_requests, then errors (division by zero on the next row): the
    extractor reads rows off the connection itself while they come, and the error the server sends in place of
    the end must still fail the table, load none of its rows, and leave the tenants loaded."""
    with app_database_with_a_tenant(pg_server, "app_fail_", tmp_path) as app_db:
        with psycopg.connect(app_db.conninfo, autocommit=True) as conn:
            conn.execute(
                "create view api_requests as select 'r' || n as id, 't1' as tenant_id, null::text as user_id,"
                " 'GET' as method, '/a' as route, 200 / (n - 30001) + 200 as status_code, 5.0::float8 as duration_ms,"
                " timestamptz '2025-03-01 10:00+00' as occurred_at from generate_series(1, 40000) n"
            )
        result = extract_app(warehouse, open_source(app_db.url), tables=["tenants", "api_requests"], start=T0)
    assert set(result.failed) == {"api_requests"}
    assert "division by zero" in result.failed["api_requests"]
    assert raw_conn.execute("select count(*) from raw.app_api_requests").fetchone()[0] == 0
    assert raw_conn.execute("select id from raw.app_tenants").fetchall() == [("t1",)]


def test_a_database_tables_rows_reach_raw_in_the_order_of_their_watermark_and_are_analyzed(
    warehouse: Warehouse, raw_conn: psycopg.Connection, pg_server: Target, tmp_path: Path
) -> None:
    """The app database stores the requests latest first; they reach raw in the order of occurred_at, the order of
    raw's key index, so that a load's rows go in at its right edge (in stored order they went in at scattered
    places: twice the warehouse's CPU per row at scale 1). Both ways into raw: a direct COPY, and the stage. Each
    load analyzes the table: the models dbt runs next plan on the rows it added."""
    with app_database_with_a_tenant(pg_server, "app_order_", tmp_path) as app_db:
        with psycopg.connect(app_db.conninfo, autocommit=True) as conn:
            conn.execute(
                "create table api_requests (id text primary key, tenant_id text, user_id text, method text,"
                " route text, status_code int, duration_ms float8, occurred_at timestamptz)"
            )
            conn.execute(
                "insert into api_requests select 'r' || n, 't1', null, 'GET', '/a', 200, 5,"
                " timestamptz '2025-03-01 00:00+00' + n * interval '1 minute' from generate_series(300, 1, -1) n"
            )
        for start, stage in ((T0, False), (T0 + timedelta(hours=2), True)):
            loaded_after = raw_conn.execute("select now()").fetchone()[0]
            if stage:  # a row the rules refuse ends the direct COPY: the table goes through the stage instead
                with psycopg.connect(app_db.conninfo, autocommit=True) as conn:
                    conn.execute("update api_requests set status_code = 1000 where id = 'r200'")
            result = extract_app(
                warehouse,
                open_source(app_db.url),
                tables=["tenants", "api_requests"],
                start=start,
                end=start + timedelta(hours=2),
            )
            # one a minute: 00:01 to 01:59, then 02:00 to 03:59 less r200
            assert result.tables["api_requests"].loaded == 119 and not result.failed, result
            # analyzed by the load (an ANALYZE's last_analyze; autovacuum's is last_autoanalyze): dbt plans on it next
            analyzed = raw_conn.execute(
                "select last_analyze from pg_stat_user_tables where relid = 'raw.app_api_requests'::regclass"
            ).fetchone()
            assert analyzed and analyzed[0] is not None and analyzed[0] >= loaded_after
        stored = [row[0] for row in raw_conn.execute("select occurred_at from raw.app_api_requests order by ctid")]
        assert len(stored) == 238 and stored == sorted(stored)
        [reason] = raw_conn.execute("select reason from raw._rejects where table_name = 'api_requests'").fetchone()
        assert reason.startswith("api_requests row 81:"), reason  # numbered in the order sent: 02:00 (r120) is row 1


def test_a_database_tables_rows_are_held_as_bytes_the_garbage_collector_does_not_walk(
    pg_server: Target, tmp_path: Path
) -> None:
    """copy_blocks hands over each row as bytes, not as psycopg's memoryview: a block of those reached the
    collector's oldest generation, and every full collection then walked the whole process (most of the extract's
    Python CPU at scale 1, in a process holding a large heap). 25,000 rows: three blocks, the last one short."""
    from extract.app.sources import BATCH_ROWS, SqlSource

    with app_database_with_a_tenant(pg_server, "app_bytes_", tmp_path) as app_db:
        with psycopg.connect(app_db.conninfo, autocommit=True) as conn:
            conn.execute(
                "create table api_requests as select 'r' || n as id, 't1' as tenant_id,"
                " timestamptz '2025-03-01 10:00+00' + n * interval '1 second' as occurred_at"
                " from generate_series(1, 25000) n"
            )
        source = SqlSource(app_db.url)
        names = ("id", "tenant_id", "occurred_at")
        blocks = [block for block, _ in source.copy_blocks("api_requests", names, None, None, numbered=False)]
    assert [len(block) for block in blocks] == [BATCH_ROWS, BATCH_ROWS, 25_000 - 2 * BATCH_ROWS]
    assert all(type(row) is bytes and not gc.is_tracked(row) for block in blocks for row in block)
    assert blocks[0][0] == b"r1,t1,2025-03-01 10:00:01+00\n"


def test_database_rows_that_cannot_be_staged_are_rejected_and_the_rest_of_their_block_loads(
    warehouse: Warehouse, raw_conn: psycopg.Connection, pg_server: Target, tmp_path: Path
) -> None:
    """A Postgres app database streams its tables by COPY, judged a block of rows at a time: a row that is not
    UTF-8 (a SQL_ASCII database) or holds JSON nested too deep is rejected naming its row, its block still loads."""
    name = "app_ascii_" + tmp_path.name.replace("-", "_")[-20:].lower()
    with throwaway_database(pg_server, name, "encoding 'SQL_ASCII' template template0 locale 'C'") as app_db:
        with psycopg.connect(app_db.conninfo, autocommit=True) as conn:
            conn.execute(
                "create table tenants (id text, name text, plan text, created_at timestamptz, updated_at timestamptz,"
                " stripe_customer_id text, is_internal bool, deleted_at timestamptz)"
            )
            conn.execute("insert into tenants values ('t1', 'Acme', 'growth', '2025-01-01', '2025-01-01', null, false)")
            conn.execute(
                "create table events (id text, tenant_id text, user_id text, event_type text, occurred_at timestamptz,"
                " properties json)"
            )
            conn.execute(
                "insert into events select 'e' || i, 't1', null, 'login', %s::timestamptz + i * interval '1 second',"
                " case when i = 3 then %s::json when i = 2 then '{\"n\": 2}' end from generate_series(1, 5) i",
                (T0, "[" * 1001 + "]" * 1001),
            )
            conn.execute("update events set event_type = E'log\\xffin' where id = 'e4'")
        url = app_db.url
        result = extract_app(warehouse, open_source(url), tables=["tenants", "events"])
        events = result.tables["events"]
        assert (events.loaded, events.rejected, result.failed) == (3, 2, {})
        loaded = raw_conn.execute("select id, properties from raw.app_events order by id").fetchall()
        assert loaded == [("e1", None), ("e2", {"n": 2}), ("e5", None)]
        reasons = sorted(r[0] for r in raw_conn.execute("select reason from raw._rejects").fetchall())
        assert sorted(reason.split(": ", 1)[1] for reason in reasons) == [
            "event_type: not valid UTF-8 (byte 0xff)",
            "properties: nested deeper than 1000 levels",
        ]
        assert all(reason.startswith("events row ") for reason in reasons), reasons


# ------------------------------------------------------------------------------------------------ CSV sources


def write_csv(directory: Path, tables: dict[str, list[dict]], variant: str) -> Path:
    """Each table as a CSV file, written the way `variant` says (line endings, quoting, column order)."""
    directory.mkdir(parents=True, exist_ok=True)
    for table, rows in tables.items():
        columns = list(dict.fromkeys(key for row in rows for key in row))
        if variant == "reordered":  # another column order, and an optional column left out
            columns = [name for name in reversed(columns) if name != "user_id"]
        if variant == "extra_column":
            columns.append("note")
        with (directory / f"{table}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(
                handle,
                lineterminator="\r\n" if variant == "crlf" else "\n",
                quoting=csv.QUOTE_ALL if variant == "quoted" else csv.QUOTE_MINIMAL,
            )
            writer.writerow(columns)
            for row in rows:
                writer.writerow([csv_value(row.get(name, "n" if name == "note" else None)) for name in columns])
    return directory


def _truncate_raw(conn: psycopg.Connection) -> None:
    conn.execute(
        "truncate raw.app_tenants, raw.app_users, raw.app_jobs, raw.app_events, raw.app_api_requests,"
        " raw._rejects, raw._watermarks"
    )


def _rejected_ids(conn: psycopg.Connection) -> set[tuple[str, str, str]]:
    rows = conn.execute("select table_name, reason, record from raw._rejects").fetchall()
    # The reason without its "file:line: " prefix (a CSV file's lines are one further down: its header).
    return {(table, json.loads(record)["id"] or "", reason.split(": ")[1]) for table, reason, record in rows}


@pytest.mark.parametrize("variant", ["lf", "crlf", "quoted", "reordered", "extra_column"])
def test_a_csv_source_loads_what_the_jsonl_source_loads(
    warehouse: Warehouse, raw_conn: psycopg.Connection, tmp_path: Path, variant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Files are read in chunks this small, so lines, line ends and quoted fields fall across chunk boundaries.
    monkeypatch.setattr(sources, "CHUNK_BYTES", 37)
    tables = good_tables()
    for table, bad in BAD_ROWS.items():
        tables[table] = tables[table] + [row for row, _ in bad]
    # An event whose properties hold a comma and a line break: only a quoted CSV field can carry it.
    tables["events"] = tables["events"] + [
        {**EVENTS[0], "id": "e_multiline", "properties": {"note": "a, b\nc"}},
    ]
    from_jsonl = extract_app(warehouse, FileSource(write_jsonl(tmp_path / "jsonl", tables)))
    expected, expected_rejects = raw_fingerprint(raw_conn), _rejected_ids(raw_conn)
    _truncate_raw(raw_conn)

    from_csv = extract_app(warehouse, FileSource(write_csv(tmp_path / "csv", tables, variant)))
    actual = raw_fingerprint(raw_conn)
    assert {k: v for k, v in actual.items() if k != "_rejects"} == {
        k: v for k, v in expected.items() if k != "_rejects"
    }
    assert _rejected_ids(raw_conn) == expected_rejects
    assert {n: r.loaded for n, r in from_csv.tables.items()} == {n: r.loaded for n, r in from_jsonl.tables.items()}
    assert from_csv.rejected == from_jsonl.rejected > 0
    props = raw_conn.execute("select properties from raw.app_events where id = 'e_multiline'").fetchone()[0]
    assert props == {"note": "a, b\nc"}


def test_csv_fields_are_judged_by_postgres_as_written(
    warehouse: Warehouse, raw_conn: psycopg.Connection, tmp_path: Path
) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "tenants.csv").write_text(
        "id,name,plan,created_at,updated_at,stripe_customer_id,is_internal,deleted_at\n"
        "t1,Acme,growth,2025-01-05 10:00:00+01,2025-01-05T10:00:00Z,,,\n"  # no is_internal: rejected, not "false"
        "t2,Globex,starter,,20250210T090000+0100,cus_2,yes,\n"  # Postgres reads the compact ISO form
        "t3,Initech,starter,,2025-02-10T09:00:00Z,, false ,\n"
    )
    header = "id,tenant_id,user_id,method,route,status_code,duration_ms,occurred_at\n"
    good = [
        "r1,t2,,GET,/a, 200 ,1e2,2025-03-01 08:00:00+01\n",
        "r2,t2,u1,GET,/a,2_01,12.5,2025-03-01T08:00:00.5+00:00\n",  # Postgres 16 reads 2_01 as 201
        "\n",  # a blank line is no row
        "r3,t3,u1,GET,/a,,,2025-03-01T09:00Z\n",
    ]
    bad = [
        (
            "r4,t2,u1,GET,/a,\u0662\u0660\u0660,1,2025-03-01T08:00:00Z\n",
            "status_code: invalid input syntax for type integer",
        ),
        ("r5,t2,u1,GET,/a,200,NaN,2025-03-01T08:00:00Z\n", "duration_ms: NaN is not a finite number"),
        ("r6,t2,u1,GET,/a,200,inf,2025-03-01T08:00:00Z\n", "duration_ms: inf is not a finite number"),
        ("r7,t2,u1,GET,/a,200,1,now\n", "occurred_at: not a date and time"),
        ("r8,t2,u1,GET,/a,99999999999,1,2025-03-01T08:00:00Z\n", 'status_code: value "99999999999" is out of range'),
        ("r9,t2,u1,GET,/a,200,1,2025-03-01T08:00:00Z,surplus\n", "9 fields, the header has 8"),
        ("r10,t1,u1,GET,/a,200,1,2025-03-01T08:00:00Z\n", "tenant_id: unknown tenant 't1'"),  # t1 was rejected
    ]
    (source / "api_requests.csv").write_text(header + "".join(good) + "".join(line for line, _ in bad))

    result = extract_app(warehouse, FileSource(source), tables=["tenants", "api_requests"])

    assert (result.tables["tenants"].loaded, result.tables["tenants"].rejected) == (2, 1)
    assert raw_conn.execute("select id, is_internal, updated_at from raw.app_tenants order by id").fetchall() == [
        ("t2", True, datetime(2025, 2, 10, 8, 0, tzinfo=UTC)),
        ("t3", False, datetime(2025, 2, 10, 9, 0, tzinfo=UTC)),
    ]
    assert raw_conn.execute("select reason from raw._rejects where table_name = 'tenants'").fetchall() == [
        ("tenants.csv:2: is_internal: missing",)
    ]
    loaded = raw_conn.execute(
        "select id, user_id, status_code, duration_ms, occurred_at from raw.app_api_requests order by id"
    ).fetchall()
    assert loaded == [
        ("r1", None, 200, 100.0, datetime(2025, 3, 1, 7, 0, tzinfo=UTC)),
        ("r2", "u1", 201, 12.5, datetime(2025, 3, 1, 8, 0, 0, 500000, tzinfo=UTC)),
        ("r3", "u1", None, None, datetime(2025, 3, 1, 9, 0, tzinfo=UTC)),
    ]
    rejects = raw_conn.execute("select reason, record from raw._rejects where table_name = 'api_requests'").fetchall()
    assert len(rejects) == len(bad) == result.tables["api_requests"].rejected
    # A row's record is the row as JSON; a line that is no row is kept as it came.
    by_id = {
        (json.loads(record)["id"] if record.startswith("{") else record.split(",")[0]): reason
        for reason, record in rejects
    }
    first_bad_line = 2 + len(good)
    for offset, (line, reason) in enumerate(bad):
        assert by_id[line.split(",")[0]].startswith(f"api_requests.csv:{first_bad_line + offset}: {reason}"), (
            line,
            by_id,
        )
    assert result.tables["api_requests"].watermark == datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("window", [{}, {"start": T0, "end": datetime(2025, 3, 2, tzinfo=UTC)}])
def test_a_plain_csv_file_is_copied_straight_in_and_loads_what_staging_loads(
    warehouse: Warehouse, raw_conn: psycopg.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, window: dict
) -> None:
    source = write_csv(tmp_path / "csv", good_tables(), "lf")
    copied: dict[str, bool] = {}
    load_direct = extractor._load_direct

    def watched(conn: psycopg.Connection, spec: AppTable, *args: object) -> bool:
        copied[spec.name] = load_direct(conn, spec, *args)  # type: ignore[arg-type]
        return copied[spec.name]

    monkeypatch.setattr(extractor, "_load_direct", watched)
    direct = extract_app(warehouse, FileSource(source), **window)
    # Events carry JSON properties, quoted in CSV: that file is staged; the others are copied as they are.
    assert copied == {"tenants": True, "users": True, "jobs": True, "events": False, "api_requests": True}
    expected = raw_fingerprint(raw_conn)
    _truncate_raw(raw_conn)
    monkeypatch.setattr(extractor, "_load_direct", lambda *args: False)
    staged = extract_app(warehouse, FileSource(source), **window)
    assert raw_fingerprint(raw_conn) == expected
    counts = {name: (r.loaded, r.unchanged, r.rejected, r.skipped_outside_window) for name, r in staged.tables.items()}
    assert {
        name: (r.loaded, r.unchanged, r.rejected, r.skipped_outside_window) for name, r in direct.tables.items()
    } == (counts)
    if window:
        assert counts["api_requests"][3] == 4  # outside the window: skipped by the COPY as by the checks
    assert raw_conn.execute("select count(distinct _batch_id) from raw.app_api_requests").fetchone()[0] == 1


def test_a_plain_csv_file_with_a_row_that_breaks_a_rule_is_staged_and_the_row_rejected(
    warehouse: Warehouse, raw_conn: psycopg.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables = good_tables()
    tables["api_requests"] = [*API, {**API[0], "id": "r_slow", "status_code": 999}, {**API[0], "id": "r_ok"}]
    source = write_csv(tmp_path / "csv", tables, "crlf")
    monkeypatch.setattr(sources, "CHUNK_BYTES", 64)
    copied: list[bool] = []
    load_direct = extractor._load_direct
    monkeypatch.setattr(extractor, "_load_direct", lambda *args: copied.append(load_direct(*args)) or copied[-1])
    result = extract_app(warehouse, FileSource(source), tables=["tenants", "api_requests"])
    assert copied == [True, False]  # tenants copied; api_requests stopped at r_slow, rolled back, then staged
    assert (result.tables["api_requests"].loaded, result.tables["api_requests"].rejected) == (len(API) + 1, 1)
    assert raw_conn.execute("select reason from raw._rejects").fetchall() == [
        (f"api_requests.csv:{len(API) + 2}: status_code: 999 is above 599",)
    ]
    assert raw_conn.execute("select count(*) from raw.app_api_requests").fetchone()[0] == len(API) + 1


def test_a_plain_csv_file_knows_tenants_whose_ids_need_quoting(
    warehouse: Warehouse, raw_conn: psycopg.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The direct COPY gets the known tenants as the keys of a JSON object: ids with special characters (and
    # one spelled like its null) are still known, and an id that is none of them is still unknown.
    odd = ["t{1}", "t\\2", "t'3", "NULL", "t 5"]
    tables = {
        "tenants": [{**TENANTS[0], "id": tenant, "stripe_customer_id": None} for tenant in odd],
        "api_requests": [{**API[0], "id": f"r{i}", "tenant_id": tenant} for i, tenant in enumerate(odd)],
    }
    copied: list[bool] = []
    load_direct = extractor._load_direct
    monkeypatch.setattr(extractor, "_load_direct", lambda *args: copied.append(load_direct(*args)) or copied[-1])
    result = extract_app(warehouse, FileSource(write_csv(tmp_path / "csv", tables, "lf")))
    assert copied == [True, True]
    assert (result.tables["api_requests"].loaded, result.rejected) == (len(odd), 0)
    assert sorted(r[0] for r in raw_conn.execute("select tenant_id from raw.app_api_requests")) == sorted(odd)

    tables["api_requests"].append({**API[0], "id": "r_gone", "tenant_id": "t1"})
    _truncate_raw(raw_conn)
    copied.clear()
    result = extract_app(warehouse, FileSource(write_csv(tmp_path / "csv2", tables, "lf")))
    assert copied == [True, False]  # the unknown tenant stops the COPY; staging rejects it
    assert raw_conn.execute("select reason from raw._rejects").fetchall() == [
        (f"api_requests.csv:{len(odd) + 2}: tenant_id: unknown tenant 't1'",)
    ]


def test_the_raw_schema_gives_back_column_defaults_an_older_warehouse_lacks(
    warehouse: Warehouse, raw_conn: psycopg.Connection
) -> None:
    from extract.warehouse import ensure_raw_schema

    raw_conn.execute("alter table raw.app_events alter _batch_id drop default, alter _extracted_at drop default")
    ensure_raw_schema(raw_conn)
    defaults = raw_conn.execute(
        "select attname, pg_get_expr(d.adbin, d.adrelid) from pg_attribute a"
        " join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum"
        " where a.attrelid = 'raw.app_events'::regclass and attname in ('_batch_id', '_extracted_at') order by 1"
    ).fetchall()
    assert defaults == [
        ("_batch_id", "current_setting('execmetrics.batch_id'::text, true)"),
        ("_extracted_at", "now()"),
    ]


def test_an_older_warehouses_id_index_gives_way_to_the_id_and_moment_key(
    warehouse: Warehouse, raw_conn: psycopg.Connection
) -> None:
    """Append-only tables were unique on their id, with a second index on occurred_at; the key index on (occurred_at,
    id) replaces both, and the rows stay as they were (unique on the id, so on the id and moment too)."""
    from extract.warehouse import ensure_raw_schema

    def indexes() -> list[tuple[str, str]]:
        return raw_conn.execute(
            "select indexname, indexdef from pg_indexes where schemaname = 'raw' and tablename = 'app_events'"
            " order by 1"
        ).fetchall()

    raw_conn.execute("drop index raw.app_events_occurred_at_key_uq")
    raw_conn.execute("create unique index app_events_key_uq on raw.app_events (id)")
    raw_conn.execute("create index app_events_occurred_at_ix on raw.app_events (occurred_at)")
    raw_conn.execute(
        "insert into raw.app_events (id, tenant_id, event_type, occurred_at, _batch_id) values"
        " ('e1', 't1', 'login', '2025-03-01T00:00:00Z', 'b'), ('e2', 't1', 'login', '2025-03-01T00:00:00Z', 'b')"
    )
    ensure_raw_schema(raw_conn)
    assert [name for name, _ in indexes()] == ["app_events_occurred_at_key_uq"]
    assert "UNIQUE" in indexes()[0][1] and "(occurred_at, id)" in indexes()[0][1]
    assert raw_conn.execute("select count(*) from raw.app_events").fetchone()[0] == 2
    ensure_raw_schema(raw_conn)  # and again: nothing to do
    assert [name for name, _ in indexes()] == ["app_events_occurred_at_key_uq"]


# ------------------------------------------------------------------------------------------------ keys, deltas, clock


def _event(i: int, day: int, hour: int = 8, **changes: object) -> dict:
    return {
        "id": f"ev{i}",
        "tenant_id": "t1",
        "user_id": "u1",
        "event_type": "login",
        "occurred_at": f"2025-03-{day:02d}T{hour:02d}:00:00Z",
        "properties": None,
        **changes,
    }


def test_a_delta_file_never_deletes_earlier_rows(
    warehouse: Warehouse, raw_conn: psycopg.Connection, tmp_path: Path
) -> None:
    tables = good_tables()
    tables["events"] = [_event(i, 1 + i % 3) for i in range(7)]  # 2025-03-01 .. 03
    extract_app(warehouse, FileSource(write_jsonl(tmp_path / "full", tables)))
    # The next export holds only what is new: three events, two inside the lookback of the watermark.
    delta = {"tenants": TENANTS, "events": [_event(7, 3, 9), _event(8, 3, 10), _event(9, 4)]}
    result = extract_app(warehouse, FileSource(write_jsonl(tmp_path / "delta", delta)), tables=["tenants", "events"])
    assert result.tables["events"].loaded == 3
    ids = sorted(row[0] for row in raw_conn.execute("select id from raw.app_events"))
    assert ids == sorted(f"ev{i}" for i in range(10))  # nothing deleted by time range
    # A re-exported row replaces the stored one with its id and moment (never two rows with one of those).
    again = {"tenants": TENANTS, "events": [_event(9, 4, event_type="file_upload")]}
    result = extract_app(warehouse, FileSource(write_jsonl(tmp_path / "again", again)), tables=["tenants", "events"])
    assert (result.tables["events"].loaded, result.tables["events"].unchanged) == (1, 0)
    rows = raw_conn.execute("select event_type from raw.app_events where id = 'ev9'").fetchall()
    assert rows == [("file_upload",)]
    assert raw_conn.execute("select count(*) from raw.app_events").fetchone()[0] == 10
    # An append-only row is its id and its moment, which it never changes: a source that moves an event in time
    # sends another row (a full build's unique test on the event id warns of it, docs/OPERATIONS.md).
    moved = {"tenants": TENANTS, "events": [_event(9, 4, 11, event_type="file_upload")]}
    result = extract_app(warehouse, FileSource(write_jsonl(tmp_path / "moved", moved)), tables=["tenants", "events"])
    assert (result.tables["events"].loaded, result.tables["events"].rejected) == (1, 0)
    rows = raw_conn.execute("select occurred_at from raw.app_events where id = 'ev9' order by 1").fetchall()
    assert [row[0].hour for row in rows] == [8, 11]


def test_duplicates_and_conflicting_versions_keep_the_later_line(
    warehouse: Warehouse, raw_conn: psycopg.Connection, tmp_path: Path
) -> None:
    tables = good_tables()
    tenant = {**TENANTS[0], "id": "t9", "updated_at": "2025-03-01T00:00:00Z"}
    tables["tenants"] = TENANTS + [tenant, {**tenant, "plan": "enterprise"}]  # lines 3 and 4: same version
    tables["events"] = [_event(1, 1), _event(1, 1), _event(2, 1), _event(2, 1, event_type="signup")]
    result = extract_app(warehouse, FileSource(write_jsonl(tmp_path / "src", tables)))

    assert (result.tables["tenants"].loaded, result.tables["tenants"].rejected) == (3, 1)
    assert (result.tables["events"].loaded, result.tables["events"].rejected) == (2, 2)
    assert raw_conn.execute("select plan from raw.app_tenants where id = 't9'").fetchall() == [("enterprise",)]
    assert raw_conn.execute("select event_type from raw.app_events where id = 'ev2'").fetchall() == [("signup",)]
    reasons = sorted(r[0] for r in raw_conn.execute("select reason from raw._rejects"))
    assert reasons == [
        "events.jsonl:1: duplicate of line 2 (same id and occurred_at, same values; line 2 is kept)",
        "events.jsonl:3: conflicts with line 4 (same id and occurred_at, other values; the later line, 4, is kept)",
        "tenants.jsonl:3: conflicts with line 4 (same id and updated_at, other values; the later line, 4, is kept)",
    ]
    # Deterministic on a re-run: the same rows stay, nothing new lands, the same rejects are not recorded twice.
    before = raw_fingerprint(raw_conn)
    second = extract_app(warehouse, FileSource(tmp_path / "src"), full_refresh=True)
    assert raw_fingerprint(raw_conn) == before
    assert second.tables["events"].loaded == 0 and second.tables["events"].unchanged == 2
    # A later load with other values for a stored version replaces it (the latest load wins), counted as loaded.
    tables["tenants"] = [{**tenant, "plan": "starter"}]
    third = extract_app(
        warehouse, FileSource(write_jsonl(tmp_path / "later", tables)), tables=["tenants"], full_refresh=True
    )
    assert third.tables["tenants"].loaded == 1
    assert raw_conn.execute("select plan from raw.app_tenants where id = 't9'").fetchall() == [("starter",)]


def test_rows_in_the_future_are_rejected_and_never_move_the_watermark(
    warehouse: Warehouse, raw_conn: psycopg.Connection, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    tables = good_tables()
    tables["tenants"] = TENANTS + [{**TENANTS[0], "id": "t_future", "updated_at": "9999-01-01T00:00:00Z"}]
    tables["events"] = EVENTS + [_event(50, 1, occurred_at="9999-12-31T23:59:59Z")]
    first = extract_app(warehouse, FileSource(write_jsonl(tmp_path / "a", tables)))
    assert first.tables["events"].rejected == first.tables["tenants"].rejected == 1
    reasons = sorted(r[0] for r in raw_conn.execute("select reason from raw._rejects"))
    assert reasons == [
        "events.jsonl:3: occurred_at: 9999-12-31 23:59:59+00 is in the future"
        " (after the load's clock plus the tolerance)",
        "tenants.jsonl:3: updated_at: 9999-01-01 00:00:00+00 is in the future"
        " (after the load's clock plus the tolerance)",
    ]
    marks = dict(raw_conn.execute("select table_name, watermark from raw._watermarks").fetchall())
    assert all(mark <= now + timedelta(minutes=11) for mark in marks.values()), marks
    assert marks["events"] == datetime(2025, 3, 2, 8, 0, tzinfo=UTC)

    # A new tenant and its events after the poisoned rows still load (nothing skipped below a bogus watermark).
    tables["tenants"] = [*tables["tenants"], {**TENANTS[0], "id": "t_new", "updated_at": "2025-04-01T00:00:00Z"}]
    tables["events"] = [*tables["events"], _event(51, 1, tenant_id="t_new", occurred_at="2025-04-02T00:00:00Z")]
    second = extract_app(warehouse, FileSource(write_jsonl(tmp_path / "b", tables)))
    assert raw_conn.execute("select count(*) from raw.app_events where tenant_id = 't_new'").fetchone()[0] == 1
    assert second.tables["events"].loaded == 1

    # A watermark stored in the future by an earlier version is not trusted: raw's latest plausible value is.
    raw_conn.execute("update raw._watermarks set watermark = '9999-06-01' where table_name = 'events'")
    tables["events"] = [*tables["events"], _event(52, 1, occurred_at="2025-04-02T06:00:00Z")]
    third = extract_app(warehouse, FileSource(write_jsonl(tmp_path / "c", tables)), tables=["tenants", "events"])
    assert third.tables["events"].window[0] == datetime(2025, 4, 2, tzinfo=UTC) - timedelta(hours=48)
    assert raw_conn.execute("select count(*) from raw.app_events where id = 'ev52'").fetchone()[0] == 1
    mark = raw_conn.execute("select watermark from raw._watermarks where table_name = 'events'").fetchone()[0]
    assert mark == datetime(2025, 4, 2, 6, 0, tzinfo=UTC)


def test_a_failing_table_never_rolls_back_another(
    warehouse: Warehouse, raw_conn: psycopg.Connection, tmp_path: Path
) -> None:
    tables = good_tables()
    del tables["events"]  # the export lacks a table: that table fails alone
    result = extract_app(warehouse, FileSource(write_jsonl(tmp_path / "src", tables)))
    assert set(result.failed) == {"events"} and "no events.jsonl or events.csv" in result.failed["events"]
    assert result.tables["api_requests"].loaded == len(API)
    assert raw_conn.execute("select count(*) from raw.app_api_requests").fetchone()[0] == len(API)
    batches = dict(raw_conn.execute("select table_name, rows_loaded from raw._batches").fetchall())
    assert batches == {"tenants": 2, "users": 1, "jobs": 1, "api_requests": len(API)}  # what landed


def test_the_command_ends_in_one_error_line(warehouse: Warehouse, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from extract.settings import PROJECT_ROOT

    tables = good_tables()
    del tables["jobs"]
    source = write_jsonl(tmp_path / "src", tables)
    done = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "extract", "app", "--source", str(source)],
        env={**os.environ, "COLUMNS": "200"},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr + done.stdout
    assert done.stderr.strip().splitlines()[-1].startswith("error: not loaded (the other tables were): jobs:")
    assert "api_requests" in done.stdout  # the other tables' counts are shown


class _WatchedRejects(list):  # type: ignore[type-arg]
    """A source's reject list that remembers the most rejects it ever held at once."""

    most = 0

    def append(self, item) -> None:  # noqa: ANN001
        super().append(item)
        _WatchedRejects.most = max(_WatchedRejects.most, len(self))


def test_rejects_are_staged_as_they_come_not_held(
    warehouse: Warehouse, raw_conn: psycopg.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows the source cannot stage (a wrong number of fields) leave memory every few rows, whatever their number:
    every one still lands in raw._rejects with its line, and the good rows between them load."""
    from extract.app import extractor

    monkeypatch.setattr(extractor, "REJECT_GROUP_ROWS", 5)
    monkeypatch.setattr(sources, "CHUNK_BYTES", 256)  # a few lines per chunk
    source = write_jsonl(tmp_path / "src", {"tenants": TENANTS})
    lines = [",".join(API[0])]
    for number in range(1, 201):
        if number % 10:
            lines.append(f"bad_{number},t1,u1,GET,/v1/x,200,12.5,2025-03-01T10:00:00Z,one too many")
        else:
            lines.append(f"req_{number},t1,u1,GET,/v1/x,200,12.5,2025-03-01T10:00:00Z")
    (source / "api_requests.csv").write_text("\n".join(lines) + "\n")
    reading = FileSource(source)

    class Watched:
        description = reading.description

        def has_table(self, table: str) -> bool:
            return reading.has_table(table)

        def read(self, table: str, start, end):  # noqa: ANN001, ANN202
            rows = reading.read(table, start, end)
            rows.rejects = _WatchedRejects()
            return rows

    _WatchedRejects.most = 0
    result = extract_app(warehouse, Watched(), tables=["tenants", "api_requests"])  # type: ignore[arg-type]
    api = result.tables["api_requests"]
    assert (api.loaded, api.rejected) == (20, 180)
    assert 0 < _WatchedRejects.most < 30  # at most a group plus one chunk's lines, never all 180
    reasons = raw_conn.execute("select reason from raw._rejects where table_name = 'api_requests'").fetchall()
    expected = {f"api_requests.csv:{number + 1}: 9 fields, the header has 8" for number in range(1, 201) if number % 10}
    assert len(reasons) == 180 and {reason for (reason,) in reasons} == expected
    stages = raw_conn.execute("select count(*) from pg_tables where tablename like '\\_stage\\_%'").fetchone()
    assert stages == (0,)  # the staged rejects went with the load


def test_tables_load_side_by_side_as_they_load_one_after_another(
    warehouse: Warehouse, raw_conn: psycopg.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After tenants, the tables load on APP_EXTRACT_WORKERS threads: the same rows, rejects and batches as one at a
    time, tenants always before the others (their rows are checked against the known tenants)."""
    tables = good_tables()
    for table, bad in BAD_ROWS.items():
        tables[table] = tables[table] + [row for row, _ in bad]
    reading = FileSource(write_jsonl(tmp_path / "src", tables))
    reads: list[tuple[str, str]] = []

    class Recorded:
        description = reading.description

        def has_table(self, table: str) -> bool:
            return reading.has_table(table)

        def read(self, table: str, start, end):  # noqa: ANN001, ANN202
            import threading

            reads.append((table, threading.current_thread().name))
            return reading.read(table, start, end)

    loads = {}
    for workers in ("1", "3"):
        monkeypatch.setenv("APP_EXTRACT_WORKERS", workers)
        _truncate_raw(raw_conn)
        reads.clear()
        result = extract_app(Warehouse(Settings()), Recorded())  # type: ignore[arg-type]
        loads[workers] = (
            raw_fingerprint(raw_conn),
            {name: (r.loaded, r.rejected, r.error) for name, r in result.tables.items()},
            sorted(raw_conn.execute("select table_name, rows_loaded, rows_rejected from raw._batches").fetchall()),
            list(reads),
        )
        raw_conn.execute("truncate raw._batches")
    assert loads["1"][:3] == loads["3"][:3]
    assert loads["3"][1]["events"] == (len(EVENTS), len(BAD_ROWS["events"]), None)
    one, three = loads["1"][3], loads["3"][3]
    assert [table for table, _ in one] == ["tenants", "users", "jobs", "events", "api_requests"]
    assert three[0][0] == "tenants" and sorted(table for table, _ in three[1:]) == [
        "api_requests",
        "events",
        "jobs",
        "users",
    ]
    assert len({thread for table, thread in three[1:]}) > 1  # side by side, on more than one thread
    assert len({thread for table, thread in one}) == 1


def test_a_stage_belongs_to_its_load_until_the_load_ends(
    warehouse: Warehouse, raw_conn: psycopg.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stage tables carry the backend of the load that reads them, not of the connections that filled them (gone by
    then): another load's cleanup, beside it, leaves them alone; a load that died has its stages dropped."""
    seen: list[tuple[int, str]] = []
    insert_valid = extractor._insert_valid

    def recording(conn, spec, rows, stage, params):  # noqa: ANN001, ANN202
        seen.append((conn.info.backend_pid, stage))
        return insert_valid(conn, spec, rows, stage, params)

    monkeypatch.setattr(extractor, "_insert_valid", recording)
    result = extract_app(warehouse, FileSource(write_jsonl(tmp_path / "src", good_tables())))
    assert not result.failed and seen
    assert all(stage.startswith(f"raw._stage_{pid}_") for pid, stage in seen)

    with warehouse.connect(autocommit=True) as load, warehouse.connect(autocommit=True) as other:
        live, dead = load.info.backend_pid, 2**22 + 7  # beyond any pid Linux hands out
        for pid in (live, dead, other.info.backend_pid):
            raw_conn.execute(f"create unlogged table raw._stage_{pid}_0 (_line bigint)")
        extractor._drop_stale_stages(other)
        left = {
            row[0] for row in raw_conn.execute("select tablename from pg_tables where tablename like '\\_stage\\_%'")
        }
        # the live load's stays; the dead one's goes, and so does one under the cleaning connection's own pid
        assert left == {f"_stage_{live}_0"}
    # once the load's connection is closed its backend exits, a moment later (the client does not wait for it)
    gone_by = time.monotonic() + 10
    while raw_conn.execute("select count(*) from pg_stat_activity where pid = %s", [live]).fetchone() != (0,):
        assert time.monotonic() < gone_by, f"backend {live} still running 10 s after its connection closed"
        time.sleep(0.05)
    extractor._drop_stale_stages(raw_conn)
    assert raw_conn.execute("select count(*) from pg_tables where tablename like '\\_stage\\_%'").fetchone() == (0,)
