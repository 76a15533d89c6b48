"""The live Stripe API path: full and incremental syncs into raw.stripe_*, through `loader.load_objects`.

How a run goes (docs/STRIPE.md says the same for operators):

Full sync (first run, `--full-refresh`, or the last sync is older than the Events API's 30-day retention):
  1. list every event the API still holds and load them (the events cursor becomes their newest `created`);
  2. list every object type in full, one transaction per type; ids we hold that the list no longer shows are
     re-fetched (404 or `deleted: true` → a tombstone row with is_deleted); subscription items come from their
     subscriptions, invoice lines are paged until `lines.has_more` is false;
  3. catch up: every event not yet in raw.stripe_events (changes made while 1–2 ran) is processed as below.
  Each step commits with its watermark, so a crashed full sync resumes where it stopped (types already listed
  in this full sync are skipped) and still ends correct: an event is loaded only in the transaction that loads
  the effect of its change, or before the objects it concerns are listed.

Incremental sync: list events created since the cursor (minus an overlap for late-visible events), skip those
already loaded, re-fetch every object they name (`*.deleted` events and 404s give tombstones), and commit
objects + events + the advanced cursor in one transaction per chunk of events.

If the API has no /v1/events (HTTP 404, e.g. an emulator), an incremental run re-lists every object type instead
and says so in the log.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from extract.settings import Settings
from extract.stripe.client import (
    AuthError,
    NotFoundError,
    SdkTransport,
    StripeApi,
    StripeApiError,
    Transport,
    UnparsableResponse,
)
from extract.stripe.loader import OBJECT_TABLES, SOURCE, LoadResult, load_objects
from extract.warehouse import (
    Reject,
    Warehouse,
    analyze_loaded,
    ensure_raw_schema,
    get_watermark,
    new_batch_id,
    record_batch,
    set_watermark,
)

__all__ = ["StripeExtractResult", "extract_stripe", "StripeApi", "SdkTransport", "StripeApiError", "AuthError"]

log = logging.getLogger("execmetrics.extract.stripe")

EVENTS_RETENTION = timedelta(days=30)
RETENTION_MARGIN = timedelta(days=1)
EVENT_OVERLAP_SECONDS = 600  # re-list this much before the cursor: events can become visible a little late
PAGE_SIZE = 100
EVENT_CHUNK = 500

TABLE_KINDS = {table: kind for kind, table in OBJECT_TABLES.items()}

# Object types listed in a full sync, in load order, with their list filters. Subscription items come from
# their subscriptions; events have their own step.
LISTED: dict[str, dict[str, Any]] = {
    "customers": {},
    "products": {},
    "plans": {},
    "prices": {},
    "coupons": {},
    "subscriptions": {"status": "all"},
    "invoices": {},
    "invoiceitems": {},
    "charges": {},
    "refunds": {},
    "payment_intents": {},
}

# Watermark rows (raw._watermarks, source 'stripe'), besides one per listed table (= last full listing).
WM_EVENTS = "events"  # the events cursor: newest `created` of the events loaded
WM_FULL_STARTED = "_full_sync_started"
WM_FULL_FINISHED = "_full_sync_finished"
WM_EVENTS_LISTED = "_full_sync_events"
WM_LAST_SYNC = "_last_sync"

Progress = Callable[[str, int], None]


@dataclass
class StripeExtractResult:
    full_sync: bool
    mode: str = "incremental"  # "full", "incremental" or "relist" (no Events API)
    resumed: bool = False
    fetched: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # objects received per table
    loaded: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # new versions per table
    unchanged: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    deleted: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # tombstones written
    rejected: int = 0
    reject_reasons: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    events_processed: int = 0
    requests: int = 0  # HTTP attempts, retries included
    retries: int = 0
    not_offered: list[str] = field(default_factory=list)  # list endpoints the API answers with 404
    failed: dict[str, str] = field(default_factory=dict)  # object types that could not be listed, and why

    def add(self, load: LoadResult) -> None:
        for key, value in load.loaded.items():
            self.loaded[key] += value
        for key, value in load.unchanged.items():
            self.unchanged[key] += value
        self.rejected += load.rejected
        for key, value in load.reject_reasons.items():
            self.reject_reasons[key] += value

    @property
    def total_loaded(self) -> int:
        return sum(self.loaded.values())

    def __str__(self) -> str:
        head = f"Stripe {self.mode} sync" + (" (resumed)" if self.resumed else "")
        lines = [f"{head}: {self.requests} requests ({self.retries} retries), {self.events_processed} events processed"]
        for table in sorted(set(self.fetched) | set(self.loaded) | set(self.deleted)):
            lines.append(
                f"  raw.stripe_{table}: {self.fetched.get(table, 0)} fetched, {self.loaded.get(table, 0)} new versions,"
                f" {self.deleted.get(table, 0)} marked deleted"
            )
        if self.rejected:
            reasons = ", ".join(f"{k}: {v}" for k, v in self.reject_reasons.items())
            lines.append(f"  {self.rejected} rejected ({reasons}): see raw._rejects")
        if self.not_offered:
            lines.append(f"  not offered by this API: {', '.join(self.not_offered)}")
        for table, message in self.failed.items():
            lines.append(f"  raw.stripe_{table} FAILED (nothing of it committed in this run): {message}")
        return "\n".join(lines)


def make_api(warehouse: Warehouse, client: StripeApi | Transport | None) -> StripeApi:
    settings = warehouse.settings
    if isinstance(client, StripeApi):
        return client
    if client is None:
        if settings.stripe_api_key is None:
            raise StripeApiError("STRIPE_API_KEY is not set (a restricted read-only key is enough: docs/STRIPE.md)")
        client = SdkTransport(settings.stripe_api_key.get_secret_value(), settings.stripe_api_base)
    return StripeApi(client, max_requests_per_second=settings.stripe_max_requests_per_second)


def extract_stripe(
    warehouse: Warehouse,
    *,
    full_refresh: bool = False,
    client: StripeApi | Transport | None = None,
    progress: Progress | None = None,
) -> StripeExtractResult:
    """Sync Stripe into raw.stripe_*: incremental through the Events API, full when needed or asked.

    `client` is a `StripeApi` (pacing + retries over a transport) or a bare `Transport` (wrapped with the
    settings' rate ceiling); by default the official SDK with STRIPE_API_KEY / STRIPE_API_BASE.
    `progress(table, objects_so_far)` is called after every page.
    """
    api = make_api(warehouse, client)
    with warehouse.connect(autocommit=True) as conn:
        ensure_raw_schema(conn)
        locked = conn.execute("select pg_try_advisory_lock(hashtext('execmetrics.extract_stripe'))").fetchone()
        if not locked or not locked[0]:
            raise StripeApiError("another Stripe extraction is running on this warehouse")
        run = _Run(conn, api, progress, timedelta(minutes=warehouse.settings.future_tolerance_minutes))
        try:
            run.execute(full_refresh)
        finally:
            run.result.requests = api.requests
            run.result.retries = api.retries
        analyze_loaded(conn, [f"raw.stripe_{table}" for table, rows in run.result.loaded.items() if rows], log.warning)
    log.info("%s", run.result)
    return run.result


def _tombstone(kind: str, object_id: str) -> dict[str, Any]:
    return {"id": object_id, "object": kind, "deleted": True}


def _created(obj: Mapping[str, Any]) -> int:
    value = obj.get("created")
    return int(value) if isinstance(value, int | float) else 0


class _Run:
    def __init__(
        self, conn: psycopg.Connection, api: StripeApi, progress: Progress | None, future_tolerance: timedelta
    ):
        self.conn = conn
        self.future_tolerance = future_tolerance
        self.api = api
        self.progress = progress
        self.result = StripeExtractResult(full_sync=False)

    # ------------------------------------------------------------------------------------------- plan

    def wm(self, name: str) -> datetime | None:
        return get_watermark(self.conn, SOURCE, name)

    def execute(self, full_refresh: bool) -> None:
        now = datetime.now(UTC)
        last_sync = self.wm(WM_LAST_SYNC)
        started = self.wm(WM_FULL_STARTED)
        finished = self.wm(WM_FULL_FINISHED)
        in_progress = started is not None and (finished is None or finished < started)
        reason = None
        if full_refresh:
            reason = "--full-refresh"
        elif last_sync is None:
            reason = "no previous sync"
        elif now - last_sync > EVENTS_RETENTION - RETENTION_MARGIN:
            reason = f"last sync {last_sync:%Y-%m-%d} is older than the {EVENTS_RETENTION.days}-day events retention"
        if reason is None and in_progress:
            assert started is not None
            log.info("stripe: resuming the full sync started %s", started.isoformat())
            self.result.resumed = True
            self.full_sync(started)
        elif reason is not None:
            log.info("stripe: full sync (%s)", reason)
            with self.conn.transaction():
                set_watermark(self.conn, SOURCE, WM_FULL_STARTED, now)
            self.full_sync(now)
        else:
            self.result.mode = "incremental"
            if not self.process_new_events():
                log.warning(
                    "stripe: this API has no /v1/events (HTTP 404): incremental sync falls back to re-listing"
                    " every object type"
                )
                self.result.mode = "relist"
                for table in LISTED:
                    self.list_type_alone(table, now)
            with self.conn.transaction():
                set_watermark(self.conn, SOURCE, WM_LAST_SYNC, now)

    def full_sync(self, started: datetime) -> None:
        self.result.full_sync = True
        self.result.mode = "full"
        events_ok = True
        listed = self.wm(WM_EVENTS_LISTED)
        if listed is None or listed < started:
            events_ok = self.list_all_events(started)
        else:
            log.info("stripe: events already listed in this full sync")
        for table in LISTED:
            done = self.wm(table)
            if done is not None and done >= started:
                log.info("stripe: %s already listed in this full sync", table)
                continue
            self.list_type_alone(table, started)
        if events_ok:
            self.process_new_events()  # changes made while the full sync ran
        if self.result.failed:
            return  # not finished: the next run resumes this full sync and lists the failed types again
        with self.conn.transaction():
            set_watermark(self.conn, SOURCE, WM_FULL_FINISHED, started)
            set_watermark(self.conn, SOURCE, WM_LAST_SYNC, started)

    # ------------------------------------------------------------------------------------------- API reads

    def pages(self, path: str, params: Mapping[str, Any]) -> Iterator[list[Any]]:
        starting_after: str | None = None
        while True:
            query = {**params, "limit": PAGE_SIZE}
            if starting_after:
                query["starting_after"] = starting_after
            page = self.api.get(path, query)
            data = page.get("data")
            if page.get("object") != "list" or not isinstance(data, list):
                raise StripeApiError(f"GET {path}: expected a list object")
            yield data
            if not page.get("has_more") or not data:
                return
            ids = [item.get("id") for item in data if isinstance(item, dict) and isinstance(item.get("id"), str)]
            if not ids:
                raise StripeApiError(f"GET {path}: cannot page on: no object on this page has an id")
            starting_after = ids[-1]

    def complete_invoice(self, invoice: dict[str, Any]) -> None:
        """Page through the invoice's lines so the payload holds them all (`lines.has_more` = false)."""
        lines = invoice.get("lines")
        if not isinstance(lines, dict) or not lines.get("has_more") or not isinstance(lines.get("data"), list):
            return
        data = list(lines["data"])
        ids = [line.get("id") for line in data if isinstance(line, dict)]
        params: dict[str, Any] = {"starting_after": ids[-1]} if ids and ids[-1] else {}
        starting_after = params.get("starting_after")
        while True:
            query: dict[str, Any] = {"limit": PAGE_SIZE}
            if starting_after:
                query["starting_after"] = starting_after
            page = self.api.get(f"/v1/invoices/{invoice['id']}/lines", query)
            batch = page.get("data") or []
            seen = {line.get("id") for line in data if isinstance(line, dict)}
            data.extend(line for line in batch if not (isinstance(line, dict) and line.get("id") in seen))
            if not page.get("has_more") or not batch:
                break
            starting_after = batch[-1].get("id")
        lines["data"] = data
        lines["has_more"] = False

    def complete_subscription(self, sub: dict[str, Any]) -> list[Any]:
        """The subscription's items (all of them, paged if needed); the payload gets the complete list too."""
        items = sub.get("items")
        if not isinstance(items, dict) or not isinstance(items.get("data"), list):
            return []
        data = list(items["data"])
        if items.get("has_more"):
            for page in self.pages("/v1/subscription_items", {"subscription": sub["id"]}):
                seen = {item.get("id") for item in data if isinstance(item, dict)}
                data.extend(item for item in page if not (isinstance(item, dict) and item.get("id") in seen))
            items["data"] = data
            items["has_more"] = False
        return data

    def expand(self, table: str, obj: Any, out: dict[str, list[Any]]) -> None:
        """Add a fetched object (and what it carries: subscription items) to `out` by table."""
        if isinstance(obj, dict) and isinstance(obj.get("id"), str) and not obj.get("deleted"):
            if table == "invoices":
                self.complete_invoice(obj)
            elif table == "subscriptions":
                out["subscription_items"].extend(self.complete_subscription(obj))
        out[table].append(obj)

    def refetch(self, table: str, object_id: str, out: dict[str, list[Any]]) -> None:
        try:
            obj = self.api.retrieve(table, object_id)
        except NotFoundError:
            out[table].append(_tombstone(TABLE_KINDS[table], object_id))
            return
        except UnparsableResponse as exc:
            out[table].append(Reject(f"unparsable JSON from GET /v1/{table}/{object_id}", exc.body[:10_000]))
            return
        self.result.fetched[table] += 1
        self.expand(table, obj, out)

    # ------------------------------------------------------------------------------------------- warehouse

    def alive_ids(self, table: str) -> set[str]:
        rows = self.conn.execute(
            f"""select id from (
                    select distinct on (id) id, is_deleted from raw.stripe_{table}
                    order by id, _seq desc) latest
                where not is_deleted"""
        ).fetchall()
        return {row[0] for row in rows}

    def event_ids(self, table: str) -> set[str]:
        """Ids of `table` objects named by the events we hold, minus those already marked deleted."""
        rows = self.conn.execute(
            """select distinct e.payload->'data'->'object'->>'id' from raw.stripe_events e
               where e.payload->'data'->'object'->>'object' = %s
                 and not exists (select 1 from raw.stripe_"""
            + table
            + """ t where t.id = e.payload->'data'->'object'->>'id' and t.is_deleted)""",
            (TABLE_KINDS[table],),
        ).fetchall()
        return {row[0] for row in rows if row[0]}

    def previous_item_ids(self, sub_ids: list[str]) -> dict[str, set[str]]:
        rows = self.conn.execute(
            """select distinct on (id) id, payload->'items'->'data' from raw.stripe_subscriptions
               where id = any(%s) order by id, _seq desc""",
            (sub_ids,),
        ).fetchall()
        found: dict[str, set[str]] = {}
        for sub_id, items in rows:
            found[sub_id] = {item["id"] for item in items or [] if isinstance(item, dict) and item.get("id")}
        return found

    def item_tombstones(self, subs: Iterable[Any], items: Iterable[Any]) -> list[dict[str, Any]]:
        """Items a subscription had in its previous stored version and no longer has."""
        subs = [s for s in subs if isinstance(s, dict) and isinstance(s.get("id"), str) and not s.get("deleted")]
        if not subs:
            return []
        current = {item.get("id") for item in items if isinstance(item, dict)}
        previous = self.previous_item_ids([s["id"] for s in subs])
        gone = set().union(*previous.values()) - current if previous else set()
        return [_tombstone("subscription_item", item_id) for item_id in sorted(gone)]

    def load(self, out: Mapping[str, list[Any]], batch_id: str, extracted_at: datetime) -> LoadResult:
        total = LoadResult()
        for table, objects in out.items():
            if not objects:
                continue
            deleted = sum(1 for o in objects if isinstance(o, dict) and o.get("deleted"))
            result = load_objects(
                self.conn, objects, batch_id, extracted_at, TABLE_KINDS[table], future_tolerance=self.future_tolerance
            )
            self.result.deleted[table] += min(deleted, result.loaded.get(table, 0))
            total.merge(result)
        self.result.add(total)
        return total

    def commit_batch(self, table: str | None, load: LoadResult, batch_id: str, started_at: datetime) -> None:
        record_batch(self.conn, batch_id, SOURCE, table, (None, None), load.total_loaded, load.rejected, started_at)

    def tick(self, table: str) -> None:
        if self.progress is not None:
            self.progress(table, self.result.fetched[table])

    # ------------------------------------------------------------------------------------------- steps

    def list_all_events(self, started: datetime) -> bool:
        """Full sync step 1: load every event the API holds. False when the API has no Events endpoint."""
        batch_id, extracted_at = new_batch_id(), datetime.now(UTC)
        try:
            with self.conn.transaction():
                newest = 0
                total = LoadResult()
                for page in self.pages("/v1/events", {}):
                    self.result.fetched["events"] += len(page)
                    newest = max([newest, *(_created(e) for e in page if isinstance(e, dict))])
                    total.merge(self.load({"events": page}, batch_id, extracted_at))
                    self.tick("events")
                if newest:
                    set_watermark(self.conn, SOURCE, WM_EVENTS, datetime.fromtimestamp(newest, UTC))
                set_watermark(self.conn, SOURCE, WM_EVENTS_LISTED, started)
                self.commit_batch("events", total, batch_id, extracted_at)
        except NotFoundError:
            log.warning(
                "stripe: this API has no /v1/events (HTTP 404): no events are loaded; later incremental"
                " runs will re-list every object type"
            )
            self.result.not_offered.append("events")
            with self.conn.transaction():
                set_watermark(self.conn, SOURCE, WM_EVENTS_LISTED, started)
            return False
        return True

    def list_type_alone(self, table: str, stamp: datetime) -> None:
        """`list_type`, except that a type whose listing fails (an API error after retries) rolls back alone: the
        run goes on with the other types and names it in `failed`; the next run lists it again."""
        try:
            self.list_type(table, stamp)
        except AuthError:
            raise
        except StripeApiError as exc:
            log.error("stripe: listing %s failed: %s", table, exc)
            self.result.failed[table] = str(exc)

    def list_type(self, table: str, stamp: datetime) -> None:
        """List one object type in full, mark vanished ids deleted, stamp the table's watermark; one transaction."""
        batch_id, extracted_at = new_batch_id(), datetime.now(UTC)
        path = f"/v1/{table}"
        try:
            with self.conn.transaction():
                total = LoadResult()
                seen: set[str] = set()
                seen_items: set[str] = set()
                for page in self.pages(path, LISTED[table]):
                    out: dict[str, list[Any]] = defaultdict(list)
                    for obj in page:
                        self.expand(table, obj, out)
                        if isinstance(obj, dict) and isinstance(obj.get("id"), str):
                            seen.add(obj["id"])
                    self.result.fetched[table] += len(page)
                    self.result.fetched["subscription_items"] += len(out.get("subscription_items", []))
                    seen_items |= {
                        i["id"] for i in out.get("subscription_items", []) if isinstance(i, dict) and i.get("id")
                    }
                    total.merge(self.load(out, batch_id, extracted_at))
                    self.tick(table)
                # ids we hold, or that events name, which the complete list does not show: re-fetch to tell
                # deleted (404 / deleted: true → tombstone) from hidden (localstripe leaves invoiced invoice
                # items out of its list)
                out = defaultdict(list)
                for object_id in sorted((self.alive_ids(table) | self.event_ids(table)) - seen):
                    self.refetch(table, object_id, out)
                if table == "subscriptions":
                    gone = self.alive_ids("subscription_items") - seen_items
                    out["subscription_items"] += [_tombstone("subscription_item", i) for i in sorted(gone)]
                total.merge(self.load(out, batch_id, extracted_at))
                set_watermark(self.conn, SOURCE, table, stamp)
                self.commit_batch(table, total, batch_id, extracted_at)
        except NotFoundError as exc:
            if self.result.fetched.get(table):
                raise
            log.warning("stripe: %s is not offered by this API (%s); skipping %s", path, exc, table)
            self.result.not_offered.append(table)
            with self.conn.transaction():
                set_watermark(self.conn, SOURCE, table, stamp)

    def process_new_events(self) -> bool:
        """Events since the cursor that are not loaded yet: re-fetch what they name, load, advance the cursor.

        Returns False when the API has no /v1/events endpoint.
        """
        cursor = self.wm(WM_EVENTS)
        params: dict[str, Any] = {}
        if cursor is not None:
            params["created"] = {"gte": int(cursor.timestamp()) - EVENT_OVERLAP_SECONDS}
        events: list[Any] = []
        try:
            for page in self.pages("/v1/events", params):
                events.extend(page)
        except NotFoundError:
            return False
        ids = [e["id"] for e in events if isinstance(e, dict) and isinstance(e.get("id"), str)]
        known = {
            row[0]
            for row in self.conn.execute("select id from raw.stripe_events where id = any(%s)", (ids,)).fetchall()
        }
        fresh: dict[str, Any] = {}
        bad: list[Any] = []
        for event in events:
            event_id = event.get("id") if isinstance(event, dict) else None
            if not isinstance(event_id, str):
                bad.append(event)  # the loader rejects it with the reason
            elif event_id not in known:
                fresh[event_id] = event
        ordered = sorted(fresh.values(), key=lambda e: (_created(e), e["id"]))
        log.info("stripe: %d events since the cursor, %d new", len(events), len(ordered))
        if bad:
            ordered.extend(bad)
        for start in range(0, len(ordered), EVENT_CHUNK):
            self.process_chunk(ordered[start : start + EVENT_CHUNK])
        return True

    def process_chunk(self, events: list[Any]) -> None:
        targets: dict[tuple[str, str], None] = {}
        for event in events:
            data = event.get("data") if isinstance(event, dict) else None
            obj = data.get("object") if isinstance(data, dict) else None
            if not isinstance(obj, dict):
                continue
            kind, object_id = obj.get("object"), obj.get("id")
            table = OBJECT_TABLES.get(kind) if isinstance(kind, str) else None
            if table is None or table == "events" or not isinstance(object_id, str):
                continue  # an object type we do not keep (payouts, sources, …)
            targets[(table, object_id)] = None
        out: dict[str, list[Any]] = defaultdict(list)
        for table, object_id in targets:
            self.refetch(table, object_id, out)
            self.tick(table)
        batch_id, extracted_at = new_batch_id(), datetime.now(UTC)
        with self.conn.transaction():
            if out.get("subscriptions"):
                out["subscription_items"] += self.item_tombstones(out["subscriptions"], out["subscription_items"])
            out["events"] = list(events)
            self.result.fetched["events"] += len(events)
            total = self.load(out, batch_id, extracted_at)
            newest = max((_created(e) for e in events if isinstance(e, dict)), default=0)
            if newest:
                set_watermark(self.conn, SOURCE, WM_EVENTS, datetime.fromtimestamp(newest, UTC))
            self.commit_batch("events", total, batch_id, extracted_at)
        self.result.events_processed += len(events)


def run_stripe_extract(settings: Settings, say: Callable[[str], None], *, full_refresh: bool) -> StripeExtractResult:
    """`execmetrics extract stripe`: the Stripe API (the settings' STRIPE_API_KEY, STRIPE_API_BASE) into the raw
    tables as the loader role, the warehouse started when needed (`say` gets its notes)."""
    from extract.warehouse import start_warehouse

    if settings.stripe_api_key is None:
        raise StripeApiError("STRIPE_API_KEY is not set (a restricted, read-only key is enough: see docs/STRIPE.md)")
    wh = Warehouse(settings)
    start_warehouse(wh, lambda text: say(f"note: {text}"))
    try:
        return extract_stripe(wh.as_role("loader"), full_refresh=full_refresh)
    except StripeApiError as exc:
        where = settings.stripe_api_base or "https://api.stripe.com"
        raise StripeApiError(
            f"the Stripe API at {where} failed: {exc}; check the network, STRIPE_API_BASE and the key"
        ) from None
