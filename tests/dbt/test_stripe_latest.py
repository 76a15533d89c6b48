"""The latest version of each Stripe object, as every Stripe staging view reads it (macro stripe_latest): the right
version, a row estimate the planner can join on, and each payload read from storage once."""

from __future__ import annotations

import json
from collections.abc import Iterator

import psycopg
import pytest
from test_product_helpers import dbt, fresh_warehouse, rows  # noqa: I001

from extract.warehouse import Target

INVOICES = 300


@pytest.fixture(scope="module")
def target(pg_server: Target, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """Two versions of each of 300 invoices (the second paid), each payload large enough to be stored out of line
    (TOAST: over 2 kB compressed), and the invoices' staging view."""
    with fresh_warehouse(pg_server) as target:
        with psycopg.connect(target.conninfo, autocommit=True) as conn:
            conn.execute(
                """insert into raw.stripe_invoices (id, created, payload, payload_hash, _batch_id, _extracted_at)
                   select 'in_' || i, now(),
                          jsonb_build_object(
                              'id', 'in_' || i, 'object', 'invoice', 'customer', 'cus_' || i, 'currency', 'usd',
                              'status', case version when 1 then 'open' else 'paid' end,
                              'amount_paid', 100 * version, 'created', 1700000000,
                              'lines', jsonb_build_object('data', '[]'::jsonb),
                              'metadata', jsonb_build_object('note', (
                                  select string_agg(md5(i::text || version || g), '') from generate_series(1, 300) g
                              ))
                          ),
                          md5(i::text || version), 'fixture', now()
                   from generate_series(1, 2) version, generate_series(1, %s) i
                   order by version, i""",
                (INVOICES,),
            )
            conn.execute("analyze raw.stripe_invoices")
        dbt(target, tmp_path_factory.mktemp("dbt_target"), "stg_stripe__invoices", command="run")
        yield target


def test_the_latest_version_of_each_object(target: Target) -> None:
    found = rows(target, "select status, amount_paid, count(*) as n from staging.stg_stripe__invoices group by 1, 2")
    assert found == [{"status": "paid", "amount_paid": 200, "n": INVOICES}]


def test_the_planner_expects_one_row_per_object(target: Target) -> None:
    """A join of two latest versions (a charge's invoice) is planned on this estimate: when a ranking filter put it
    at half a percent of the versions (3 rows here), Postgres joined charges to invoices in a nested loop."""
    with psycopg.connect(target.conninfo) as conn:
        [(plan,)] = conn.execute("explain (format json) select * from staging.stg_stripe__invoices").fetchall()
    estimate = (plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"]["Plan Rows"]
    assert INVOICES / 2 <= estimate <= INVOICES * 2


def test_each_payload_is_read_from_storage_once(target: Target) -> None:
    """The view takes 23 fields from an invoice's payload; each used to fetch (and decompress) the whole payload
    again. Counted in the TOAST table's blocks fetched by this transaction: at most one pass over the stored
    payloads (the latest versions are half of them), where reading per field took about 23 x half."""
    with psycopg.connect(target.conninfo) as conn:
        toast = conn.execute(
            "select reltoastrelid, reltoastrelid::regclass::text from pg_class"
            " where oid = 'raw.stripe_invoices'::regclass"
        ).fetchone()
        assert toast and toast[0]
        stored = conn.execute(
            "select sum(pg_column_size(payload)) > %s * 2048 from raw.stripe_invoices", (2 * INVOICES,)
        ).fetchone()
        assert stored and stored[0], "the payloads are too small to be stored out of line"
        chunks = conn.execute(f"select count(*) from {toast[1]}").fetchone()
        before = conn.execute("select pg_stat_get_xact_blocks_fetched(%s)", toast[:1]).fetchone()
        assert len(conn.execute("select * from staging.stg_stripe__invoices").fetchall()) == INVOICES
        after = conn.execute("select pg_stat_get_xact_blocks_fetched(%s)", toast[:1]).fetchone()
    assert chunks and before and after
    fetched = after[0] - before[0]
    assert 0 < fetched <= chunks[0], f"{fetched} TOAST blocks fetched for {chunks[0]} stored chunks"
