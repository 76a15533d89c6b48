"""Test helpers for the Stripe extractor: a localstripe server per test module, a fault-injecting proxy,
data builders and a raw-state snapshot to compare runs.

localstripe is started through its Python entry point with three small, test-only patches (`LAUNCHER` below):
- its store is not pickled to /tmp/localstripe.pickle after every write (other test sessions share /tmp);
- `GET /v1/invoices/{id}/lines` accepts `starting_after` (Stripe does; localstripe 1.15 answers 400), so line
  pagination can be exercised;
- with `--complete-events`, every create/update/delete of an object we extract emits an event (`<type>.created`,
  `.updated`, `.deleted`) as Stripe does. Stock localstripe only emits a few (no subscription updates, no coupon,
  charge, refund or invoice item events), which would make an events-driven sync miss changes.
  The events carry the object as exported at that moment; the extractor re-fetches objects anyway.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg

from extract.warehouse import STRIPE_OBJECT_TABLES

TEST_KEY = "sk_test_execmetricsSecret4242424242"

LAUNCHER = r"""
import hashlib, json, sys
import localstripe.resources as r

r.Store.dump_to_disk = lambda self: None
r.Store.try_load_from_disk = lambda self: None


def _list_lines(id, limit=None, starting_after=None, **kwargs):
    if kwargs:
        raise r.UserError(400, 'Unexpected ' + ', '.join(kwargs.keys()))
    obj = r.Invoice._api_retrieve(id)
    lines = r.List('/v1/invoices/' + id + '/lines', limit=limit, starting_after=starting_after)
    lines._list = obj.lines._list
    return lines


r.extra_apis[:] = [(m, u, _list_lines if u == '/v1/invoices/{id}/lines' else f) for m, u, f in r.extra_apis]

from localstripe import server  # noqa: E402  (after the patches: routes bind at import)

if '--complete-events' in sys.argv:
    sys.argv.remove('--complete-events')
    from aiohttp import web

    TRACKED = ('customer', 'product', 'plan', 'coupon', 'subscription', 'invoice', 'invoiceitem', 'charge',
               'refund', 'payment_intent')
    NAMES = {'subscription': 'customer.subscription'}
    snapshot = {}

    def _digest(obj):
        try:
            return hashlib.sha1(json.dumps(obj._export(), sort_keys=True, default=str).encode()).hexdigest()
        except Exception:
            return None

    def _diff():
        current = {}
        for key, obj in list(r.store.items()):
            if key.split(':', 1)[0] in TRACKED:
                current[key] = (obj, _digest(obj))
        for key, (obj, digest) in current.items():
            kind = key.split(':', 1)[0]
            before = snapshot.get(key)
            if before is None:
                r.Event(NAMES.get(kind, kind) + '.created', obj)
            elif before[1] != digest:
                r.Event(NAMES.get(kind, kind) + '.updated', obj)
        for key, (obj, _) in snapshot.items():
            if key not in current:
                kind = key.split(':', 1)[0]
                r.Event(NAMES.get(kind, kind) + '.deleted', r.DeletedObject(obj.id, kind))
        snapshot.clear()
        snapshot.update(current)

    @web.middleware
    async def complete_events(request, handler):
        response = await handler(request)
        if request.method in ('POST', 'DELETE') and request.path.startswith('/v1/'):
            _diff()
        return response

    server.app.middlewares.append(complete_events)

server.start()
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"localstripe exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"localstripe did not listen on port {port}")


@dataclass
class LocalStripe:
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def flush(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request("DELETE", "/_config/data")
        conn.getresponse().read()
        conn.close()


@contextmanager
def run_localstripe(complete_events: bool = True) -> Iterator[LocalStripe]:
    port = free_port()
    args = [sys.executable, "-c", LAUNCHER, "--port", str(port), "--from-scratch"]
    if complete_events:
        args.append("--complete-events")
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(port, proc)
        yield LocalStripe(port, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


# ------------------------------------------------------------------------------------------------ fault proxy


@dataclass
class ProxyState:
    fault_rate: float = 0.0
    seed: int = 0
    events_missing: bool = False  # answer /v1/events with 404
    requests: int = 0
    faults: dict[str, int] = field(default_factory=lambda: {"429": 0, "500": 0, "drop": 0})
    paths: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    rng: random.Random = field(default_factory=random.Random)

    def reset(self) -> None:
        with self.lock:
            self.requests = 0
            self.faults = {"429": 0, "500": 0, "drop": 0}
            self.paths = []
            self.rng = random.Random(self.seed)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream_port: int
    state: ProxyState

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _forward(self) -> None:
        state = self.state
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        with state.lock:
            state.requests += 1
            state.paths.append(self.path)
            roll = state.rng.random()
            fault = state.rng.choice(("429", "500", "drop")) if roll < state.fault_rate else None
            if fault:
                state.faults[fault] += 1
        if fault == "drop":
            self.close_connection = True
            with suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault == "429":
            self._reply(429, {"error": {"type": "invalid_request_error", "code": "rate_limit", "message": "Too many"}})
            return
        if fault == "500":
            self._reply(500, {"error": {"type": "api_error", "message": "injected failure"}})
            return
        if state.events_missing and self.path.split("?")[0] == "/v1/events":
            self._reply(404, {"error": {"type": "invalid_request_error", "message": "Unrecognized request URL"}})
            return
        upstream = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        upstream.request(self.command, self.path, body=body, headers=headers)
        response = upstream.getresponse()
        data = response.read()
        upstream.close()
        self.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = _forward
    do_POST = _forward
    do_DELETE = _forward


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:  # clients that hang up (dropped on purpose)
        pass


@dataclass
class FaultProxy:
    server: ThreadingHTTPServer
    state: ProxyState
    thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@contextmanager
def run_proxy(upstream_port: int, state: ProxyState | None = None) -> Iterator[FaultProxy]:
    state = state or ProxyState()
    state.reset()
    handler = type("Handler", (_Handler,), {"upstream_port": upstream_port, "state": state})
    server = _QuietServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield FaultProxy(server, state, thread)
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------------------------------------ raw state


def raw_state(conn: psycopg.Connection, include_deleted: bool = False) -> dict[str, dict[str, Any]]:
    """The latest payload per id of every raw.stripe_* table (deleted ones left out unless asked)."""
    state: dict[str, dict[str, Any]] = {}
    for table in STRIPE_OBJECT_TABLES:
        rows = conn.execute(
            f"""select id, payload, is_deleted from (
                    select distinct on (id) id, payload, is_deleted from raw.stripe_{table}
                    order by id, _seq desc) latest"""
        ).fetchall()
        state[table] = {row[0]: row[1] for row in rows if include_deleted or not row[2]}
    return state


def version_counts(conn: psycopg.Connection) -> dict[str, int]:
    return {
        table: conn.execute(f"select count(*) from raw.stripe_{table}").fetchone()[0]  # type: ignore[index]
        for table in STRIPE_OBJECT_TABLES
    }


def stripe_env(api_base: str, key: str = TEST_KEY) -> dict[str, str]:
    return {**os.environ, "STRIPE_API_KEY": key, "STRIPE_API_BASE": api_base}
