"""The bad-input corpus through the Stripe API path: localstripe's answers, changed on the way by a proxy (the SDK
parses them as it would Stripe's), reach raw or raw._rejects, one object at a time, never stopping the sync."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import psycopg
import pytest

from extract.stripe.api import extract_stripe
from extract.stripe.loader import OBJECT_TABLES
from extract.warehouse import Warehouse
from tests.integration.bad_data_cases import API_KINDS, dumps_raw, set_path
from tests.integration.stripe_helpers import LocalStripe, run_localstripe
from tests.integration.test_stripe_extract import Scenario, api_for

pytestmark = pytest.mark.timeout(300)
KINDS = {table: kind for kind, table in OBJECT_TABLES.items()}


@pytest.fixture(scope="module")
def localstripe() -> Iterator[LocalStripe]:
    with run_localstripe(complete_events=True) as ls:
        Scenario(ls).base(n_customers=8, n_subs=3)
        yield ls


@contextmanager
def changing_proxy(upstream: int, path: str, field: str, value: Any) -> Iterator[str]:
    """A proxy that changes `field` of the first object of the first page of GET `path`."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        changed = False

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            conn = http.client.HTTPConnection("127.0.0.1", upstream, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            conn.request("GET", self.path, headers=headers)
            response = conn.getresponse()
            data = response.read()
            conn.close()
            if self.path.split("?")[0] == path and response.status == 200 and not Handler.changed:
                body = json.loads(data)
                if body.get("data"):
                    set_path(body["data"][0], field, value)
                    data = dumps_raw(body).encode()
                    Handler.changed = True
            self.send_response(response.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
        assert Handler.changed, f"the proxy changed nothing on {path}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("table", "field", "value", "fragment"),
    API_KINDS,
    ids=[f"api:{i:02d}-{k[0]}-{k[1]}" for i, k in enumerate(API_KINDS)],
)
def test_stripe_api_case(
    table: str,
    field: str,
    value: Any,
    fragment: str,
    localstripe: LocalStripe,
    warehouse: Warehouse,
    raw_conn: psycopg.Connection,
) -> None:
    with changing_proxy(localstripe.port, f"/v1/{table}", field, value) as url:
        result = extract_stripe(warehouse, full_refresh=True, client=api_for(url))

    assert not result.failed and result.mode == "full"
    kind = KINDS[table]
    rejects = [r[0] for r in raw_conn.execute("select reason from raw._rejects").fetchall()]
    assert len(rejects) == result.rejected == 1, rejects
    assert fragment in rejects[0]
    raw = raw_conn.execute(f"select count(*) from raw.stripe_{table}").fetchone()[0]  # type: ignore[index]
    on_table = raw_conn.execute("select count(*) from raw._rejects where table_name = %s", (kind,)).fetchone()[0]  # type: ignore[index]
    # Every object received for the table (listed, or fetched again) is a version or a reject.
    assert raw + on_table == result.fetched[table] == result.loaded[table] + result.unchanged[table] + 1
    # The other types loaded what they received.
    for other, fetched in result.fetched.items():
        if other != table:
            count = raw_conn.execute(f"select count(*) from raw.stripe_{other}").fetchone()[0]  # type: ignore[index]
            assert count == result.loaded[other] and result.loaded[other] + result.unchanged[other] == fetched, other
