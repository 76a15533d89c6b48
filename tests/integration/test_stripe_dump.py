"""The Stripe dump loader: versions, idempotency, rejects and shape checks against the pinned API version."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from extract.stripe.dump import DumpError, load_dump
from extract.warehouse import Warehouse

CUSTOMER = {
    "id": "cus_1",
    "object": "customer",
    "created": 1735689600,
    "email": "a@b.test",
    "metadata": {"tenant_id": "t1"},
}
PLAN = {
    "id": "plan_m",
    "object": "plan",
    "amount": 5000,
    "currency": "usd",
    "interval": "month",
    "interval_count": 1,
    "created": 1735689600,
}
INVOICE = {
    "id": "in_1",
    "object": "invoice",
    "customer": "cus_1",
    "currency": "usd",
    "status": "paid",
    "created": 1735689600,
    "subscription": "sub_1",
    "lines": {
        "object": "list",
        "has_more": False,
        "data": [
            {
                "id": "il_1",
                "object": "line_item",
                "amount": 5000,
                "currency": "usd",
                "period": {"start": 1735689600, "end": 1738368000},
                "plan": PLAN,
                "quantity": 1,
                "proration": False,
            }
        ],
    },
}


def write_dump(directory: Path, files: dict[str, list[object]], *, as_list_object: bool = False) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, objects in files.items():
        if as_list_object:
            (directory / f"{name}.json").write_text(json.dumps({"object": "list", "data": objects}))
        else:
            (directory / f"{name}.jsonl").write_text(
                "".join((o if isinstance(o, str) else json.dumps(o)) + "\n" for o in objects)
            )
    return directory


def counts(conn: psycopg.Connection) -> dict[str, int]:
    return {
        table: conn.execute(f"select count(*) from raw.stripe_{table}").fetchone()[0]
        for table in ("customers", "plans", "invoices")
    }


def test_load_twice_adds_nothing_and_a_change_adds_a_version(raw_conn: psycopg.Connection, tmp_path: Path) -> None:
    dump = write_dump(tmp_path / "d1", {"customers": [CUSTOMER], "plans": [PLAN], "invoices": [INVOICE]})
    first = load_dump(raw_conn, dump)
    assert dict(first.loaded) == {"customers": 1, "plans": 1, "invoices": 1}
    second = load_dump(raw_conn, dump)
    assert second.total_loaded == 0 and dict(second.unchanged) == {"customers": 1, "plans": 1, "invoices": 1}
    assert counts(raw_conn) == {"customers": 1, "plans": 1, "invoices": 1}

    changed = write_dump(tmp_path / "d2", {"customers": [{**CUSTOMER, "email": "new@b.test"}]}, as_list_object=True)
    assert load_dump(raw_conn, changed).loaded == {"customers": 1}
    versions = raw_conn.execute(
        "select payload->>'email' from raw.stripe_customers where id = 'cus_1' order by _extracted_at"
    ).fetchall()
    assert [v[0] for v in versions] == ["a@b.test", "new@b.test"]


def test_bad_objects_go_to_rejects_with_reasons(raw_conn: psycopg.Connection, tmp_path: Path) -> None:
    no_id = {k: v for k, v in CUSTOMER.items() if k != "id"}
    wrong_type = {**PLAN, "id": "plan_in_customers"}
    other_shape = {k: v for k, v in INVOICE.items() if k != "lines"}  # e.g. a different API version's invoice
    line_without_period = json.loads(json.dumps(INVOICE))
    line_without_period["id"] = "in_2"
    del line_without_period["lines"]["data"][0]["period"]
    dump = write_dump(
        tmp_path / "d",
        {
            "customers": [CUSTOMER, no_id, wrong_type, "{broken json"],
            "invoices": [other_shape, line_without_period],
        },
    )
    result = load_dump(raw_conn, dump)
    assert result.loaded == {"customers": 1}
    assert result.rejected == 5
    reasons = {r[0] for r in raw_conn.execute("select reason from raw._rejects")}
    assert reasons == {
        "customers.jsonl:2: missing id",
        "customers.jsonl:3: expected a customer, got object type 'plan'",
        "customers.jsonl:4: unparsable JSON: Expecting property name enclosed in double quotes",
        "invoices.jsonl:1: invoice 'in_1' has no field 'lines' (expected API version shape)",
        "invoices.jsonl:2: invoice 'in_2': line 1 has no field 'period' (expected API version shape)",
    }
    # Re-loading the same bad dump records each bad object once.
    load_dump(raw_conn, dump)
    assert raw_conn.execute("select count(*) from raw._rejects").fetchone()[0] == 5


def test_unknown_files_are_an_error_not_skipped(raw_conn: psycopg.Connection, tmp_path: Path) -> None:
    dump = write_dump(tmp_path / "d", {"customers": [CUSTOMER], "widgets": [{"id": "w"}]})
    with pytest.raises(DumpError, match="unknown files in the Stripe dump .*widgets.jsonl"):
        load_dump(raw_conn, dump)
    with pytest.raises(DumpError, match="does not exist"):
        load_dump(raw_conn, tmp_path / "nowhere")


def test_a_change_back_to_an_earlier_state_is_the_latest_version(raw_conn: psycopg.Connection, tmp_path: Path) -> None:
    for step, email in enumerate(["a@b.test", "b@b.test", "a@b.test"]):
        load_dump(raw_conn, write_dump(tmp_path / f"d{step}", {"customers": [{**CUSTOMER, "email": email}]}))
    versions = raw_conn.execute("select payload->>'email' from raw.stripe_customers order by _seq").fetchall()
    assert [v[0] for v in versions] == ["a@b.test", "b@b.test", "a@b.test"]


def test_an_unchanged_file_is_not_read_again_unless_full_refresh(raw_conn: psycopg.Connection, tmp_path: Path) -> None:
    other = {**CUSTOMER, "id": "cus_2"}
    dump = write_dump(tmp_path / "d", {"customers": [CUSTOMER, other], "plans": [PLAN]})
    first = load_dump(raw_conn, dump)
    assert dict(first.loaded) == {"customers": 2, "plans": 1} and not first.skipped
    # A row removed behind the loader's back stays removed while the files are unchanged: the files are not read.
    raw_conn.execute("delete from raw.stripe_customers where id = 'cus_2'")
    second = load_dump(raw_conn, dump)
    assert set(second.skipped) == {"customer", "plan"} and second.total_loaded == 0
    assert dict(second.unchanged) == {"customers": 2, "plans": 1}  # the objects of the load that is not repeated
    assert counts(raw_conn)["customers"] == 1
    batches = "select count(*) from raw._batches where source = 'stripe_dump'"
    assert raw_conn.execute(batches).fetchone()[0] == 2  # the first load's two files, nothing since
    # full_refresh reads every file.
    again = load_dump(raw_conn, dump, full_refresh=True)
    assert not again.skipped and (again.loaded["customers"], again.unchanged["plans"]) == (1, 1)
    # A table emptied since (a reset, a table rebuilt) is loaded again.
    raw_conn.execute("delete from raw.stripe_customers")
    emptied = load_dump(raw_conn, dump)
    assert set(emptied.skipped) == {"plan"} and emptied.loaded["customers"] == 2


def test_a_file_is_judged_by_its_content_not_its_time(raw_conn: psycopg.Connection, tmp_path: Path) -> None:
    dump = write_dump(tmp_path / "d", {"customers": [CUSTOMER]})
    load_dump(raw_conn, dump)
    copied = write_dump(tmp_path / "copy", {"customers": [CUSTOMER]})  # the same bytes, another time and folder
    assert set(load_dump(raw_conn, copied).skipped) == {"customer"}
    same_size = write_dump(tmp_path / "edit", {"customers": [{**CUSTOMER, "email": "z@b.test"}]})
    assert (same_size / "customers.jsonl").stat().st_size == (dump / "customers.jsonl").stat().st_size
    edited = load_dump(raw_conn, same_size)
    assert not edited.skipped and edited.loaded["customers"] == 1


def test_a_file_with_rejects_is_read_every_time(raw_conn: psycopg.Connection, tmp_path: Path) -> None:
    """An object rejected as in the future is taken by a later load, once its time has come."""
    soon = raw_conn.execute("select extract(epoch from now() + interval '1 hour')::bigint").fetchone()[0]
    dump = write_dump(tmp_path / "d", {"customers": [CUSTOMER, {**CUSTOMER, "id": "cus_soon", "created": soon}]})
    first = load_dump(raw_conn, dump, future_tolerance=timedelta(minutes=10))
    assert (dict(first.loaded), first.rejected) == ({"customers": 1}, 1)
    later = load_dump(raw_conn, dump, future_tolerance=timedelta(hours=2))  # as if an hour had passed
    assert not later.skipped and (later.loaded["customers"], later.rejected) == (1, 0)
    assert set(load_dump(raw_conn, dump).skipped) == {"customer"}  # that load took every object


def test_each_file_commits_on_its_own(warehouse: Warehouse, raw_conn: psycopg.Connection, tmp_path: Path) -> None:
    """On a connection that is not in autocommit (the extract asset's), every file's load is committed when it ends,
    the checks of which files changed included: another connection sees each before the caller commits."""
    dump = write_dump(tmp_path / "d", {"customers": [CUSTOMER], "plans": [PLAN]})
    changed = write_dump(tmp_path / "e", {"customers": [{**CUSTOMER, "email": "new@b.test"}], "plans": [PLAN]})
    with warehouse.connect() as conn:
        load_dump(conn, dump)
        assert set(load_dump(conn, dump).skipped) == {"customer", "plan"}
        assert load_dump(conn, changed).loaded["customers"] == 1
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert counts(raw_conn)["customers"] == 2  # both versions, seen from another connection
        conn.rollback()
    assert counts(raw_conn)["customers"] == 2


def test_a_load_analyzes_the_tables_it_added_versions_to(raw_conn: psycopg.Connection, tmp_path: Path) -> None:
    """dbt plans the Stripe models right after the load: a table that got versions has fresh statistics
    (extract/warehouse.py analyze_loaded; last_analyze is an ANALYZE's, autovacuum's is last_autoanalyze); a table
    the load left as it was is not analyzed again."""

    def analyzed_since(moment: object) -> dict[str, bool]:
        return dict(
            raw_conn.execute(  # type: ignore[arg-type]
                "select relname, coalesce(last_analyze >= %s, false) from pg_stat_user_tables"
                " where schemaname = 'raw' and relname in ('stripe_customers', 'stripe_plans', 'stripe_invoices')",
                (moment,),
            ).fetchall()
        )

    first = raw_conn.execute("select clock_timestamp()").fetchone()[0]  # type: ignore[index]
    load_dump(raw_conn, write_dump(tmp_path / "d", {"customers": [CUSTOMER], "plans": [PLAN]}))
    assert analyzed_since(first) == {"stripe_customers": True, "stripe_plans": True, "stripe_invoices": False}
    second = raw_conn.execute("select clock_timestamp()").fetchone()[0]  # type: ignore[index]
    load_dump(raw_conn, write_dump(tmp_path / "e", {"customers": [CUSTOMER], "plans": [{**PLAN, "amount": 6000}]}))
    assert analyzed_since(second) == {"stripe_customers": False, "stripe_plans": True, "stripe_invoices": False}
