"""The deterministic demo generator: determinism, the app contract, consistency with the Stripe dump, shapes."""

from __future__ import annotations

import hashlib
import itertools
import json
import subprocess
import sys
import textwrap
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from extract.demo.generator import APP_TABLES, DemoCompany, DemoConfig

SMALL = DemoConfig(tenants=12, months=2, seed=7, end=date(2026, 3, 31), api_requests_per_active_user_day=3)
NULLABLE = {
    "tenants": {"stripe_customer_id", "deleted_at"},
    "users": {"last_login_at", "deleted_at"},
    "events": {"user_id", "properties"},
    "jobs": {"started_at", "finished_at", "error"},
    "api_requests": {"user_id"},
}
TYPES: dict[str, type | tuple[type, ...]] = {
    "is_internal": bool,
    "is_staff": bool,
    "status_code": int,
    "duration_ms": float,
    "properties": dict,
}


@pytest.fixture(scope="module")
def company() -> DemoCompany:
    return DemoCompany(DemoConfig())


@pytest.fixture(scope="module")
def app(company: DemoCompany) -> dict[str, list[dict[str, Any]]]:
    """The default company's smaller tables (api_requests is checked on the small config)."""
    return {t: list(company.iter_rows(t)) for t in ("tenants", "users", "events", "jobs")}


@pytest.fixture(scope="module")
def stripe(company: DemoCompany) -> dict[str, list[dict[str, Any]]]:
    return company.stripe_objects()


def _digest(co: DemoCompany, tmp: Path) -> dict[str, str]:
    co.write_app_files(tmp / "app")
    co.write_stripe_dump(tmp / "stripe")
    return {str(p.relative_to(tmp)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(tmp.rglob("*.jsonl"))}


def test_window() -> None:
    cfg = DemoConfig(months=12, end=date(2026, 10, 31))
    assert cfg.start == date(2025, 11, 1)
    co = DemoCompany(DemoConfig(tenants=5, months=2, end=date(2026, 1, 15)))
    assert (co.start, co.end) == (date(2025, 12, 1), date(2026, 1, 15))


def test_same_config_gives_identical_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    first = _digest(DemoCompany(SMALL), tmp_path / "a")
    second = _digest(DemoCompany(SMALL), tmp_path / "b")
    assert first == second
    assert len(first) == len(APP_TABLES) + 13
    other = DemoCompany(DemoConfig(**{**SMALL.__dict__, "seed": 8}))
    same = DemoCompany(SMALL)
    for table in ("tenants", "users", "events"):
        assert list(itertools.islice(other.iter_rows(table), 500)) != list(itertools.islice(same.iter_rows(table), 500))
    assert other.stripe_objects()["invoices"] != same.stripe_objects()["invoices"]


def test_more_tenants_than_names_still_get_names_and_domains_of_their_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """The large company has more tenants than the words make names: once no free name is drawn, the tenant's number
    is added (before, the draw never ended at 10,000 tenants)."""
    from extract.demo import generator

    monkeypatch.setattr(generator, "ADJ", ["Blue", "Red"])
    monkeypatch.setattr(generator, "NOUN", ["Fox"])
    monkeypatch.setattr(generator, "SUFFIX", ["Labs", "Works"])
    company = DemoCompany(DemoConfig(tenants=12, months=2, end=date(2026, 1, 15)))
    tenants = list(company.iter_rows("tenants"))
    external = [row["name"] for row in tenants if not row["name"].startswith("Execmetrics")]
    assert len(external) == 9 and len(set(external)) == 9
    drawn = [name for name in external if len(name.split()) == 3]
    assert sorted(drawn) == ["Blue Fox Labs", "Blue Fox Works", "Red Fox Labs", "Red Fox Works"]
    assert all(name.split()[-1].isdigit() for name in external if name not in drawn)
    domains = {user["tenant_id"]: user["email"].split("@")[1] for user in company.iter_rows("users")}
    outside = [domains[row["id"]] for row in tenants if row["name"] in external]
    assert len(set(outside)) == 9  # the users' e-mail domains too (the internal tenants share the company's)


def test_rows_have_exactly_the_contract_columns_and_types() -> None:
    co = DemoCompany(SMALL)
    for table, columns in APP_TABLES.items():
        rows = list(co.iter_rows(table))
        assert rows, table
        for row in rows:
            assert tuple(row) == columns, table
            for column, value in row.items():
                if value is None:
                    assert column in NULLABLE[table], (table, column)
                elif column.endswith("_at"):
                    assert isinstance(value, datetime) and value.utcoffset() == timedelta(0), (table, column)
                elif column in TYPES:
                    assert isinstance(value, TYPES[column]), (table, column, value)
                else:
                    assert isinstance(value, str), (table, column, value)
        assert len({r["id"] for r in rows}) == len(rows), f"duplicate ids in {table}"
    with pytest.raises(ValueError, match="unknown app table"):
        co.iter_rows("orders")


def test_api_requests_small_config_are_consistent() -> None:
    co = DemoCompany(SMALL)
    users = {u["id"]: u for u in co.iter_rows("users")}
    rows = list(co.iter_rows("api_requests"))
    codes = Counter(r["status_code"] // 100 for r in rows)
    assert codes[2] / len(rows) > 0.9 and codes[4] > 0
    for r in rows:
        assert co.start <= r["occurred_at"].date() <= co.end
        if r["user_id"] is not None:
            u = users[r["user_id"]]
            assert u["tenant_id"] == r["tenant_id"] and r["occurred_at"] >= u["created_at"]
    durations = sorted(r["duration_ms"] for r in rows)
    median, p99 = durations[len(durations) // 2], durations[int(len(durations) * 0.99)]
    assert p99 > 8 * median  # a long tail


def test_a_thinned_history_keeps_every_session_and_the_full_days_rows() -> None:
    """Activity days before the last `full_rate_days` carry history_rate x the per-user events and API requests, but
    the same sessions: who is active on each day (the logins MAU reads) is the full company's, and the full-rate
    days' rows are the full company's row for row."""
    shape = {"tenants": 12, "months": 2, "seed": 7, "end": date(2026, 3, 31), "activity_days": 10}
    full = DemoCompany(DemoConfig(**shape))  # type: ignore[arg-type]
    thin = DemoCompany(DemoConfig(**shape, full_rate_days=2, history_rate=0.1))  # type: ignore[arg-type]
    first_full = full.end - timedelta(days=1)

    def by_day(company: DemoCompany, table: str) -> dict[bool, list[dict[str, Any]]]:
        rows: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
        for row in company.iter_rows(table):
            rows[row["occurred_at"].date() >= first_full].append(row)
        return rows

    def logins(rows: list[dict[str, Any]]) -> set[tuple[str, date]]:
        return {(r["user_id"], r["occurred_at"].date()) for r in rows if r["event_type"] == "login"}

    for table in ("events", "api_requests"):
        full_rows, thin_rows = by_day(full, table), by_day(thin, table)
        assert thin_rows[True] == full_rows[True], table
        thinned = [r for r in thin_rows[False] if r.get("event_type") != "login"]
        assert 0 < len(thinned) < 0.2 * sum(r.get("event_type") != "login" for r in full_rows[False]), table
    full_events, thin_events = by_day(full, "events"), by_day(thin, "events")
    assert logins(thin_events[False]) == logins(full_events[False]) != set()
    assert list(thin.iter_rows("users")) == list(full.iter_rows("users"))
    with pytest.raises(ValueError, match="history_rate"):
        DemoCompany(DemoConfig(**shape, full_rate_days=2, history_rate=0))  # type: ignore[arg-type]


def test_default_sizes(app: dict[str, list[dict[str, Any]]], stripe: dict[str, list[dict[str, Any]]]) -> None:
    assert len(app["tenants"]) == 60
    assert 100_000 <= len(app["events"]) <= 220_000
    internal = [t for t in app["tenants"] if t["is_internal"]]
    assert 1 <= len(internal) <= 5 and all(t["stripe_customer_id"] is None for t in internal)
    assert {t["plan"] for t in app["tenants"]} == {"free", "starter", "growth", "enterprise"}
    assert any(t["deleted_at"] for t in app["tenants"]) and any(u["deleted_at"] for u in app["users"])
    assert any(u["is_staff"] for u in app["users"]) and not all(u["is_staff"] for u in app["users"])
    per_tenant = Counter(u["tenant_id"] for u in app["users"])
    assert max(per_tenant.values()) >= 5 * sorted(per_tenant.values())[len(per_tenant) // 2]  # heavy tail
    assert len(stripe["customers"]) >= 20


def test_signups_grow_with_seasonality(company: DemoCompany, app: dict[str, list[dict[str, Any]]]) -> None:
    by_month = Counter(t["created_at"].strftime("%Y-%m") for t in app["tenants"] if not t["is_internal"])
    assert by_month["2026-07"] > by_month["2025-11"]
    assert by_month["2026-08"] < by_month["2026-07"] and by_month["2025-12"] < by_month["2026-01"]


def test_referential_integrity(app: dict[str, list[dict[str, Any]]], stripe: dict[str, list[dict[str, Any]]]) -> None:
    tenants = {t["id"]: t for t in app["tenants"]}
    users = {u["id"]: u for u in app["users"]}
    assert all(u["tenant_id"] in tenants for u in users.values())
    for e in app["events"]:
        assert e["tenant_id"] in tenants
        if e["user_id"] is not None:
            assert users[e["user_id"]]["tenant_id"] == e["tenant_id"]
    assert all(j["tenant_id"] in tenants for j in app["jobs"])
    signups = Counter(e["user_id"] for e in app["events"] if e["event_type"] == "signup")
    assert set(signups) == set(users) and set(signups.values()) == {1}
    for e in app["events"]:
        if e["event_type"] == "signup":
            assert e["occurred_at"] == users[e["user_id"]]["created_at"]
    # Stripe customers link to tenants both ways
    by_customer = {t["stripe_customer_id"]: t for t in tenants.values() if t["stripe_customer_id"]}
    customers = {c["id"]: c for c in stripe["customers"]}
    assert set(by_customer) <= set(customers)
    for c in customers.values():
        tenant = tenants[c["metadata"]["tenant_id"]]
        assert not tenant["is_internal"]
        assert tenant["stripe_customer_id"] in (c["id"], None)
    assert sum(1 for c in customers.values() if tenants[c["metadata"]["tenant_id"]]["stripe_customer_id"] is None) <= 1
    sub_customers = {s["customer"] for s in stripe["subscriptions"]}
    assert sub_customers == set(customers)
    # a tenant on a paid plan has a live subscription; a tenant with none is on the free plan
    live = {s["customer"] for s in stripe["subscriptions"] if s["status"] in ("active", "trialing", "past_due")}
    for t in tenants.values():
        cid = next((c for c, v in customers.items() if v["metadata"]["tenant_id"] == t["id"]), None)
        if t["is_internal"]:
            continue
        assert (t["plan"] != "free") == (cid in live), t


def test_last_login_matches_login_events(app: dict[str, list[dict[str, Any]]]) -> None:
    last: dict[str, datetime] = {}
    for e in app["events"]:
        if e["event_type"] == "login":
            last[e["user_id"]] = max(last.get(e["user_id"], e["occurred_at"]), e["occurred_at"])
    for u in app["users"]:
        assert u["last_login_at"] == last.get(u["id"]), u
    never = sum(1 for u in app["users"] if u["last_login_at"] is None)
    assert 0.1 < never / len(app["users"]) < 0.4  # a share of users never activate


def test_weekdays_are_busier_than_weekends(app: dict[str, list[dict[str, Any]]]) -> None:
    per_day = Counter(e["occurred_at"].date() for e in app["events"] if e["event_type"] != "signup")
    weekday = [n for d, n in per_day.items() if d.weekday() < 5]
    weekend = [n for d, n in per_day.items() if d.weekday() >= 5]
    ratio = (sum(weekend) / len(weekend)) / (sum(weekday) / len(weekday))
    assert 0.2 < ratio < 0.55


def test_jobs_are_consistent(app: dict[str, list[dict[str, Any]]]) -> None:
    jobs = app["jobs"]
    statuses = Counter(j["status"] for j in jobs)
    assert 0.03 <= statuses["failed"] / len(jobs) <= 0.06
    assert statuses["cancelled"] > 0
    assert {j["job_type"] for j in jobs} == {"file_processing", "report_render", "export", "sync"}
    for j in jobs:
        assert (j["error"] is not None) == (j["status"] == "failed")
        if j["status"] in ("succeeded", "failed"):
            assert j["created_at"] <= j["started_at"] <= j["finished_at"] == j["updated_at"]
        if j["started_at"] is None:
            assert j["status"] in ("queued", "cancelled")
        assert j["updated_at"] >= j["created_at"]


def test_churned_tenants_go_quiet(
    app: dict[str, list[dict[str, Any]]], stripe: dict[str, list[dict[str, Any]]]
) -> None:
    subs_by_tenant: dict[str, list[dict[str, Any]]] = defaultdict(list)
    tenant_of = {c["id"]: c["metadata"]["tenant_id"] for c in stripe["customers"]}
    for s in stripe["subscriptions"]:
        subs_by_tenant[tenant_of[s["customer"]]].append(s)
    last_activity: dict[str, datetime] = {}
    for e in app["events"]:
        if e["event_type"] in ("login", "worklog_created", "file_upload", "report_generated"):
            last_activity[e["tenant_id"]] = e["occurred_at"]
    churned = 0
    for tenant_id, subs in subs_by_tenant.items():
        if all(s["status"] == "canceled" for s in subs):
            churned += 1
            ended = datetime.fromtimestamp(max(s["ended_at"] for s in subs), UTC)
            if tenant_id in last_activity:
                assert last_activity[tenant_id] <= ended + timedelta(days=3), tenant_id
    assert churned >= 3


def test_invoices_add_up_and_lines_lie_in_the_subscription_life(stripe: dict[str, list[dict[str, Any]]]) -> None:
    subs = {s["id"]: s for s in stripe["subscriptions"]}
    prorations = 0
    for inv in stripe["invoices"]:
        lines = inv["lines"]["data"]
        assert inv["lines"]["has_more"] is False and inv["lines"]["total_count"] == len(lines)
        assert inv["subtotal"] == sum(line["amount"] for line in lines)
        discount = sum(d["amount"] for d in inv["total_discount_amounts"])
        assert inv["total"] == inv["subtotal"] - discount + (inv["tax"] or 0)
        if inv["status"] != "draft":
            assert inv["amount_due"] == inv["amount_paid"] + inv["amount_remaining"] or inv["status"] in (
                "void",
                "uncollectible",
            )
        if inv["status"] == "paid":
            assert inv["amount_paid"] == inv["amount_due"] and inv["amount_remaining"] == 0
        sub = subs[inv["subscription"]]
        life_end = max(sub["current_period_end"], sub["ended_at"] or 0)
        for line in lines:
            assert sub["start_date"] <= line["period"]["start"] <= line["period"]["end"] <= life_end
            if sub["ended_at"]:
                assert line["period"]["start"] < sub["ended_at"]
            assert line["price"]["id"] == line["plan"]["id"] and line["currency"] == inv["currency"]
            prorations += line["proration"]
    assert prorations >= 4


def test_stripe_dump_covers_the_billing_stories(stripe: dict[str, list[dict[str, Any]]]) -> None:
    invoices, subs, charges = stripe["invoices"], stripe["subscriptions"], stripe["charges"]
    assert {"paid", "void", "uncollectible"} <= {i["status"] for i in invoices}
    assert {"active", "canceled"} <= {s["status"] for s in subs}
    assert any(s["cancel_at_period_end"] for s in subs) and any(s["trial_start"] for s in subs)
    assert any(i["attempt_count"] >= 2 and i["status"] == "paid" for i in invoices)  # past due, recovered
    assert any(s["cancellation_details"]["reason"] == "payment_failed" for s in subs)  # lost
    assert {"card_declined", "insufficient_funds", "expired_card"} >= {c["failure_code"] for c in charges} - {None}
    assert any(c["failure_code"] for c in charges)
    assert any(c["refunded"] for c in charges) and any(0 < c["amount_refunded"] < c["amount"] for c in charges)
    assert {(p["interval"], p["interval_count"]) for p in stripe["plans"]} == {("month", 1), ("month", 3), ("year", 1)}
    used = {(line["plan"]["interval"], line["plan"]["interval_count"]) for i in invoices for line in i["lines"]["data"]}
    assert {("month", 1), ("year", 1), ("month", 3)} <= used
    assert {c["duration"] for c in stripe["coupons"]} == {"once", "repeating", "forever"}
    assert any(c["percent_off"] == 100 and c["times_redeemed"] for c in stripe["coupons"])
    assert any(i["total_discount_amounts"] for i in invoices)
    assert {"usd", "eur", "gbp", "jpy"} <= {c["currency"] for c in stripe["customers"]}
    jpy = [p for p in stripe["prices"] if p["currency"] == "jpy" and p["recurring"]["interval_count"] == 1]
    assert {p["unit_amount"] for p in jpy if p["recurring"]["interval"] == "month"} == {2000, 5000, 10000}
    assert any(
        e["type"] == "customer.subscription.updated" and "pause_collection" in e["data"].get("previous_attributes", {})
        for e in stripe["events"]
    )
    # a reactivation: a customer with a canceled subscription and a later one
    by_customer: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in subs:
        by_customer[s["customer"]].append(s)
    assert any(len(v) > 1 and v[0]["ended_at"] and v[1]["start_date"] > v[0]["ended_at"] for v in by_customer.values())
    types = {e["type"] for e in stripe["events"]}
    assert {"customer.subscription.updated", "invoice.paid", "invoice.payment_failed"} <= types


def test_stripe_objects_have_the_pinned_shape(stripe: dict[str, list[dict[str, Any]]], raw_conn: Any) -> None:
    prefixes = {
        "customers": "cus_",
        "subscriptions": "sub_",
        "subscription_items": "si_",
        "invoices": "in_",
        "charges": "ch_",
        "refunds": "re_",
        "payment_intents": "pi_",
        "events": "evt_",
        "products": "prod_",
        "coupons": "co_",
        "invoiceitems": "ii_",
    }
    loader = pytest.importorskip("extract.stripe.loader")
    ids: set[str] = set()
    for kind, objects in stripe.items():
        for obj in objects:
            assert loader.OBJECT_TABLES[obj["object"]] == kind
            assert obj["id"].startswith(prefixes.get(kind, ("plan_", "price_")))
            assert obj["livemode"] is False if "livemode" in obj else True
            json.dumps(obj)  # plain JSON, nothing else
            if kind not in ("plans", "prices"):  # a plan and its price share one id
                assert obj["id"] not in ids
                ids.add(obj["id"])
    every = [obj for objects in stripe.values() for obj in objects]
    assert [r for r in loader.check_objects(raw_conn, every) if r] == []  # what the loader accepts, all of it
    assert {p["id"] for p in stripe["plans"]} == {p["id"] for p in stripe["prices"]}
    for e in stripe["events"]:
        assert e["api_version"] == "2024-06-20" and isinstance(e["data"]["object"], dict)
    for inv in stripe["invoices"]:
        for line in inv["lines"]["data"]:
            assert line["id"].startswith("il_") and line["object"] == "line_item"


def test_api_requests_stream_lazily_with_bounded_memory() -> None:
    """~1M API requests in a child process: its peak RSS stays small (nothing is materialised)."""
    code = textwrap.dedent(
        """
        import resource, sys
        from extract.demo.generator import DemoCompany, DemoConfig
        co = DemoCompany(DemoConfig(tenants=12, months=3, seed=3, api_requests_per_active_user_day=300))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        n = sum(1 for _ in co.iter_rows("api_requests"))
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(n, before, after)
        """
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    n, before, after = map(int, out.stdout.split())
    assert n > 800_000
    assert after - before < 60_000, f"peak RSS grew by {(after - before) // 1024} MB"  # ru_maxrss is in kB


def test_first_rows_come_before_the_rest_is_generated() -> None:
    import time
    import tracemalloc

    co = DemoCompany(DemoConfig(tenants=12, months=3, seed=3, api_requests_per_active_user_day=2000))
    tracemalloc.start()
    try:
        began = time.perf_counter()
        rows = list(itertools.islice(co.iter_rows("api_requests"), 2000))
        elapsed = time.perf_counter() - began
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(rows) == 2000 and elapsed < 5
    assert peak < 100 * 1024 * 1024


def test_jsonl_lines_are_the_rows_as_json(tmp_path: Path) -> None:
    co = DemoCompany(SMALL)
    co.write_app_files(tmp_path)
    for table in ("tenants", "events", "api_requests"):
        with (tmp_path / f"{table}.jsonl").open(encoding="utf-8") as handle:
            for line, row in itertools.islice(zip(handle, co.iter_rows(table), strict=False), 3000):
                parsed = json.loads(line)
                assert list(parsed) == list(APP_TABLES[table])
                for key, value in row.items():
                    expected = value.isoformat(timespec="milliseconds") if isinstance(value, datetime) else value
                    assert parsed[key] == expected, (table, key)


def test_csv_files(tmp_path: Path) -> None:
    counts = DemoCompany(SMALL).write_app_files(tmp_path, fmt="csv")
    for table, columns in APP_TABLES.items():
        lines = (tmp_path / f"{table}.csv").read_text(encoding="utf-8").splitlines()
        assert lines[0] == ",".join(columns)
        assert len(lines) - 1 == counts[table]


def test_write_app_database(request: pytest.FixtureRequest) -> None:
    try:
        conninfo = request.getfixturevalue("pg_database")
    except Exception as exc:  # no fixture, or no server here
        pytest.skip(f"no Postgres for this test: {exc}")
    import psycopg

    cfg = DemoConfig(tenants=6, months=2, seed=5, end=date(2026, 2, 28), api_requests_per_active_user_day=2)
    co = DemoCompany(cfg)
    counts = co.write_app_database(conninfo)
    with psycopg.connect(conninfo) as conn:
        for table, columns in APP_TABLES.items():
            assert conn.execute(f"select count(*) from {table}").fetchone()[0] == counts[table] > 0
            got = [
                r[0]
                for r in conn.execute(
                    "select column_name from information_schema.columns"
                    " where table_name = %s order by ordinal_position",
                    (table,),
                )
            ]
            assert tuple(got) == columns
        types = dict(
            conn.execute(
                "select column_name, data_type from information_schema.columns where table_name = 'events'"
            ).fetchall()
        )
        assert types["properties"] == "json" and types["occurred_at"] == "timestamp with time zone"
        first = next(co.iter_rows("events"))
        row = conn.execute("select occurred_at, properties from events where id = %s", (first["id"],)).fetchone()
        assert row == (first["occurred_at"], first["properties"])
