"""The Stripe API extractor against localstripe (a real Stripe emulator), through a loopback fault proxy."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from extract.settings import PROJECT_ROOT, Settings
from extract.stripe import STRIPE_API_VERSION
from extract.stripe import api as api_module
from extract.stripe.api import extract_stripe
from extract.stripe.client import AuthError, SdkTransport, StripeApi
from extract.warehouse import Target, Warehouse, ensure_raw_schema
from tests.conftest import throwaway_database
from tests.integration.stripe_helpers import (
    TEST_KEY,
    LocalStripe,
    ProxyState,
    raw_state,
    run_localstripe,
    run_proxy,
    version_counts,
)

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def localstripe() -> Iterator[LocalStripe]:
    with run_localstripe(complete_events=True) as ls:
        yield ls


@pytest.fixture
def ls(localstripe: LocalStripe) -> LocalStripe:
    localstripe.flush()
    return localstripe


@pytest.fixture
def other_warehouse(pg_server: Target) -> Iterator[Warehouse]:
    """A second, independent warehouse (fresh database) for comparison runs."""
    with throwaway_database(pg_server, "t_" + uuid.uuid4().hex[:12]) as target:
        wh = Warehouse(Settings(warehouse_url=target.url.replace("+psycopg", "")))
        with wh.connect() as conn:
            ensure_raw_schema(conn)
        yield wh


def sdk(ls: LocalStripe) -> stripe.StripeClient:
    return stripe.StripeClient(TEST_KEY, base_addresses={"api": ls.url}, stripe_version=STRIPE_API_VERSION)


def api_for(url: str, rate: float = 500.0) -> StripeApi:
    return StripeApi(SdkTransport(TEST_KEY, url), max_requests_per_second=rate, backoff_base=0.01, backoff_cap=0.2)


def state_of(wh: Warehouse, include_deleted: bool = False) -> dict[str, dict[str, Any]]:
    with wh.connect(autocommit=True) as conn:
        return raw_state(conn, include_deleted)


# ------------------------------------------------------------------------------------------------ the scenario


class Scenario:
    """Builds Stripe data through the SDK, straight at localstripe (not through the proxy)."""

    def __init__(self, ls: LocalStripe):
        self.c = sdk(ls).v1
        self.raw = sdk(ls)
        self.customers: list[str] = []
        self.subs: list[str] = []
        self.deleted: dict[str, set[str]] = {"customers": set(), "coupons": set()}

    def customer(self, email: str, pay: bool = False) -> str:
        cus = self.c.customers.create({"email": email})
        if pay:
            pm = self.c.payment_methods.create(
                {
                    "type": "card",
                    "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
                }
            )
            self.c.payment_methods.attach(pm.id, {"customer": cus.id})
            self.c.customers.update(cus.id, {"invoice_settings": {"default_payment_method": pm.id}})
        self.customers.append(cus.id)
        return cus.id

    def base(self, n_customers: int = 110, n_subs: int = 8) -> None:
        c = self.c
        pro = c.products.create({"name": "Pro"})
        team = c.products.create({"name": "Team"})
        c.plans.create({"id": "basic-m", "amount": 1000, "currency": "usd", "interval": "month", "product": pro.id})
        c.plans.create({"id": "pro-m", "amount": 3000, "currency": "usd", "interval": "month", "product": pro.id})
        c.plans.create({"id": "team-y", "amount": 90000, "currency": "usd", "interval": "year", "product": team.id})
        c.coupons.create({"id": "WELCOME20", "percent_off": 20, "duration": "once"})
        c.coupons.create({"id": "TEAM10", "percent_off": 10, "duration": "forever"})
        payers = [self.customer(f"payer{i}@example.com", pay=True) for i in range(n_subs + 1)]
        for i in range(n_customers - len(payers)):
            self.customer(f"user{i}@example.com")
        for cus in payers[:n_subs]:
            self.subs.append(c.subscriptions.create({"customer": cus, "items": [{"plan": "basic-m"}]}).id)
        self.upgrade(self.subs[0], "pro-m")
        c.subscriptions.cancel(self.subs[1])
        self.refund(self.subs[2], 400)
        # an invoice with more lines than its first embedded page (10): pending items join the first invoice
        for i in range(13):
            c.invoice_items.create({"customer": payers[-1], "amount": 100 + i, "currency": "usd"})
        self.subs.append(c.subscriptions.create({"customer": payers[-1], "items": [{"plan": "basic-m"}]}).id)

    def upgrade(self, sub_id: str, plan: str) -> None:
        sub = self.c.subscriptions.retrieve(sub_id)
        self.c.subscriptions.update(sub_id, {"items": [{"id": sub["items"].data[0].id, "plan": plan}]})

    def refund(self, sub_id: str, amount: int) -> None:
        sub = self.c.subscriptions.retrieve(sub_id)
        invoice = self.raw.raw_request("get", f"/v1/invoices/{sub.latest_invoice}").data
        charge = invoice["charge"]["id"] if isinstance(invoice["charge"], dict) else invoice["charge"]
        self.c.refunds.create({"charge": charge, "amount": amount})

    def changes(self) -> None:
        c = self.c
        for i in range(3):
            self.customer(f"new{i}@example.com")
        c.customers.update(self.customers[-10], {"email": "changed@example.com"})
        gone = self.customers[-20]
        c.customers.delete(gone)
        self.deleted["customers"].add(gone)
        self.upgrade(self.subs[3], "team-y")
        c.subscriptions.cancel(self.subs[4])
        self.refund(self.subs[5], 250)
        c.coupons.delete("TEAM10")
        self.deleted["coupons"].add("TEAM10")
        c.invoice_items.create({"customer": self.customers[5], "amount": 777, "currency": "usd"})

    def truth(self) -> dict[str, set[str]]:
        """Every id localstripe holds now, listed directly (no proxy), per raw table."""
        found: dict[str, set[str]] = {}
        for table, params in {
            "customers": {},
            "products": {},
            "plans": {},
            "coupons": {},
            "subscriptions": {"status": "all"},
            "invoices": {},
            "invoiceitems": {},
            "charges": {},
            "refunds": {},
        }.items():
            ids: set[str] = set()
            after = None
            while True:
                page = self.raw.raw_request(
                    "get", f"/v1/{table}", limit=100, **params, **({"starting_after": after} if after else {})
                ).data
                ids |= {o["id"] for o in page["data"]}
                if not page["has_more"]:
                    break
                after = page["data"][-1]["id"]
            found[table] = ids
        # localstripe lists only pending invoice items; invoiced ones are still retrievable, and events name them
        events = self.raw.raw_request("get", "/v1/events", limit=1000).data["data"]
        for event in events:
            obj = event["data"]["object"]
            if obj.get("object") == "invoiceitem" and obj["id"] not in found["invoiceitems"]:
                try:
                    self.raw.raw_request("get", f"/v1/invoiceitems/{obj['id']}")
                except stripe.InvalidRequestError:
                    continue  # deleted
                found["invoiceitems"].add(obj["id"])
        return found


# ------------------------------------------------------------------------------------------------ tests


def test_full_then_incremental_matches_a_full_refresh(
    ls: LocalStripe, warehouse: Warehouse, other_warehouse: Warehouse
) -> None:
    scenario = Scenario(ls)
    began = time.monotonic()
    scenario.base()
    print(f"\nbuilt in {time.monotonic() - began:.1f}s")
    truth = scenario.truth()
    assert len(truth["customers"]) == 110

    with run_proxy(ls.port) as proxy:
        began = time.monotonic()
        full = extract_stripe(warehouse, client=api_for(proxy.url))
        print(f"full sync in {time.monotonic() - began:.1f}s")
        assert full.full_sync and full.mode == "full"
        state = state_of(warehouse)
        for table, ids in truth.items():
            assert set(state[table]) == ids, table
        assert len(state["subscription_items"]) == 9  # one live item per subscription
        big = [inv for inv in state["invoices"].values() if len(inv["lines"]["data"]) > 10]
        assert len(big) == 1 and len(big[0]["lines"]["data"]) == 14 and big[0]["lines"]["has_more"] is False
        assert {s["status"] for s in state["subscriptions"].values()} == {"active", "canceled"}
        assert state["events"], "localstripe serves /v1/events: the full sync loads them"

        # nothing changed: an incremental run is one events request
        quiet = extract_stripe(warehouse, client=api_for(proxy.url))
        assert not quiet.full_sync and quiet.events_processed == 0 and quiet.total_loaded == 0
        assert set(quiet.fetched) <= {"events"}  # only the events list (the overlap window), no object

        # a few changes: the run re-fetches just those objects (plus the events pages)
        scenario.customer("late@example.com")
        scenario.c.customers.update(scenario.customers[40], {"email": "renamed@example.com"})
        with warehouse.connect(autocommit=True) as conn:
            before_small = conn.execute("select clock_timestamp()").fetchone()[0]  # type: ignore[index]
        small = extract_stripe(warehouse, client=api_for(proxy.url))
        assert not small.full_sync and small.events_processed >= 2  # localstripe's own events + the shim's
        assert small.fetched["customers"] == 2 and set(small.fetched) == {"customers", "events"}
        # the tables that got versions are analyzed for the models dbt plans next (analyze_loaded), no other
        with warehouse.connect(autocommit=True) as conn:
            analyzed = {
                name
                for (name,) in conn.execute(
                    "select relname from pg_stat_user_tables where schemaname = 'raw' and last_analyze >= %s",
                    (before_small,),
                )
            }
        assert analyzed == {f"stripe_{table}" for table, rows in small.loaded.items() if rows} >= {"stripe_customers"}
        assert small.requests < full.requests / 2, (small.requests, full.requests)

        # many changes: upgrades, cancellations, refunds, deletions
        scenario.changes()
        incremental = extract_stripe(warehouse, client=api_for(proxy.url))
        assert not incremental.full_sync and incremental.mode == "incremental"
        assert incremental.events_processed > 0

        refresh = extract_stripe(other_warehouse, full_refresh=True, client=api_for(proxy.url))
        assert refresh.full_sync

    after = state_of(warehouse)
    fresh = state_of(other_warehouse)
    differing = {
        t: sorted(k for k in set(after[t]) | set(fresh[t]) if after[t].get(k) != fresh[t].get(k)) for t in after
    }
    assert not any(differing.values()), differing
    assert after == fresh
    for table, ids in scenario.truth().items():
        assert set(after[table]) == ids, table
    with_deleted = state_of(warehouse, include_deleted=True)
    for table, ids in scenario.deleted.items():
        for object_id in ids:
            assert with_deleted[table][object_id]["deleted"] is True, (table, object_id)
    # the replaced subscription item (upgrade) is kept, marked deleted
    assert len(with_deleted["subscription_items"]) > len(after["subscription_items"])
    print(
        f"requests: full {full.requests}, quiet {quiet.requests}, 2 changes {small.requests},"
        f" {incremental.events_processed} events {incremental.requests}, full refresh {refresh.requests}"
    )


def test_without_events_api_incremental_relists(
    ls: LocalStripe, warehouse: Warehouse, other_warehouse: Warehouse, caplog: pytest.LogCaptureFixture
) -> None:
    scenario = Scenario(ls)
    scenario.base(n_customers=15, n_subs=3)
    state = ProxyState(events_missing=True)
    with run_proxy(ls.port, state) as proxy:
        full = extract_stripe(warehouse, client=api_for(proxy.url))
        assert "events" in full.not_offered
        scenario.c.customers.update(scenario.customers[3], {"email": "moved@example.com"})
        scenario.c.customers.delete(scenario.customers[4])
        scenario.upgrade(scenario.subs[1], "team-y")
        with caplog.at_level(logging.INFO):
            incremental = extract_stripe(warehouse, client=api_for(proxy.url))
        assert incremental.mode == "relist"
        assert "no /v1/events" in caplog.text and "re-listing" in caplog.text
        extract_stripe(other_warehouse, full_refresh=True, client=api_for(proxy.url))
    assert state_of(warehouse) == state_of(other_warehouse)
    assert state_of(warehouse, include_deleted=True)["customers"][scenario.customers[4]]["deleted"] is True


def test_fault_injection_gives_the_same_raw_state(
    ls: LocalStripe, warehouse: Warehouse, other_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    Scenario(ls).base(n_customers=40, n_subs=4)
    monkeypatch.setattr(api_module, "PAGE_SIZE", 10)  # more pages, more requests to fail
    state = ProxyState(fault_rate=0.2, seed=7)
    with run_proxy(ls.port, state) as proxy:
        faulty = extract_stripe(warehouse, client=api_for(proxy.url))
        faults = dict(state.faults)
    assert sum(faults.values()) >= 3 and all(faults.values()), faults
    assert faulty.retries == sum(faults.values())
    with run_proxy(ls.port) as proxy:
        clean = extract_stripe(other_warehouse, client=api_for(proxy.url))
    assert clean.retries == 0
    assert state_of(warehouse) == state_of(other_warehouse)
    print(f"\nfaults injected {faults} over {faulty.requests} requests; clean run {clean.requests} requests")


CHILD = """
import sys
from extract.stripe import api as api_module
from extract.stripe.api import extract_stripe
from extract.settings import load_settings
from extract.warehouse import Warehouse
result = extract_stripe(Warehouse(load_settings()))
print("DONE", result.mode, result.requests)
"""


def test_kill_mid_run_then_rerun_equals_a_clean_run(
    ls: LocalStripe, warehouse: Warehouse, other_warehouse: Warehouse
) -> None:
    scenario = Scenario(ls)
    scenario.base(n_customers=40, n_subs=5)
    with run_proxy(ls.port) as proxy:
        env = {
            **os.environ,
            "STRIPE_API_KEY": TEST_KEY,
            "STRIPE_API_BASE": proxy.url,
            "STRIPE_MAX_REQUESTS_PER_SECOND": "25",
            "PYTHONPATH": str(PROJECT_ROOT),
        }
        for kill_after in (3, 9):  # mid events listing / mid object types (full sync), then a full resume
            proxy.state.reset()
            child = subprocess.Popen(
                [sys.executable, "-c", CHILD], env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            deadline = time.monotonic() + 60
            while proxy.state.requests < kill_after and child.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
            child.send_signal(signal.SIGKILL)
            child.wait()
            assert child.returncode == -signal.SIGKILL, child.stderr.read() if child.stderr else ""
        done = subprocess.run(
            [sys.executable, "-c", CHILD], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert "DONE full" in done.stdout  # the interrupted full sync resumed
        clean = extract_stripe(other_warehouse, client=api_for(proxy.url))
    assert state_of(warehouse) == state_of(other_warehouse)
    with warehouse.connect(autocommit=True) as a, other_warehouse.connect(autocommit=True) as b:
        assert version_counts(a) == version_counts(b)  # no duplicate versions either
    assert clean.full_sync


def test_the_api_key_never_reaches_logs_output_or_errors(
    ls: LocalStripe,
    warehouse: Warehouse,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    Scenario(ls).base(n_customers=6, n_subs=3)
    secret = "sk_test_" + uuid.uuid4().hex
    rejected = "rk_test_" + uuid.uuid4().hex  # localstripe accepts only sk_ keys: a forced 401
    monkeypatch.setattr(stripe, "log", "debug")  # the SDK's own console logging, on purpose
    texts: list[str] = []
    with caplog.at_level(logging.DEBUG), run_proxy(ls.port, ProxyState(fault_rate=0.2, seed=3)) as proxy:
        logging.getLogger("stripe").setLevel(logging.DEBUG)
        for key in (secret, rejected):
            monkeypatch.setenv("STRIPE_API_KEY", key)
            monkeypatch.setenv("STRIPE_API_BASE", proxy.url)
            wh = Warehouse(Settings())
            try:
                result = extract_stripe(wh, full_refresh=True)
                texts.append(str(result) + repr(result))
            except AuthError as exc:
                assert key == rejected
                texts += [str(exc), repr(exc), "".join(__import__("traceback").format_exception(exc))]
            else:
                assert key == secret
    out, err = capfd.readouterr()
    texts += [caplog.text, out, err, *(r.getMessage() for r in caplog.records)]
    blob = "\n".join(texts)
    assert "GET /v1/customers" in blob and "HTTP 401" in blob, "the capture saw the run and the auth failure"
    assert secret not in blob and rejected not in blob
    assert secret[8:] not in blob and rejected[8:] not in blob
