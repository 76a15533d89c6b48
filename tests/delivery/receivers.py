"""Real receivers on loopback: an SMTP server (aiosmtpd) and an HTTP server for Slack-style and signed webhooks.

The HTTP receiver answers per path, as configured by the test:
- `ok`: 200 to everything;
- `fail_once`: 503 to the first request of each delivery id, then 200;
- `always_fail`: 500 to everything;
- `signed:<secret>`: checks the X-Execmetrics-Signature header with `verify_signature` against its own clock (moved
  by `clock_skew_s`), exactly as a receiver would: 401 when it does not verify or is too old (recorded as refused),
  200 when it does; a delivery id it already processed is answered 200 and dropped (recorded as a duplicate).
Every request is recorded; `accepted(path)` are the ones answered 2xx and not dropped, i.e. the messages the
receiver got. `replay(request)` sends a recorded request again, byte for byte, as someone who captured it would.
"""

from __future__ import annotations

import email
import email.policy
import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from dashboards.delivery.signing import DELIVERY_HEADER, SIGNATURE_HEADER, SignatureError, verify_signature


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    refused: str | None = None
    duplicate: bool = False

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    server: ThreadingHTTPServer
    behaviour: dict[str, str] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    seen_ids: set[str] = field(default_factory=set)
    processed: set[str] = field(default_factory=set)
    clock_skew_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str, behaviour: str = "ok") -> str:
        self.behaviour["/" + path] = behaviour
        return f"{self.base}/{path}"

    def accepted(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == "/" + path and 200 <= r.status < 300 and not r.duplicate]

    def all(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == "/" + path]

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()
            self.seen_ids.clear()
            self.processed.clear()
            self.clock_skew_s = 0.0

    def replay(self, request: Request, body: bytes | None = None) -> int:
        """POST a recorded request again (its headers, its body or `body`); the receiver's answer."""
        skip = {"host", "content-length", "connection", "accept-encoding"}
        headers = {key: value for key, value in request.headers.items() if key.lower() not in skip}
        data = request.body if body is None else body
        sent = urllib.request.Request(self.base + request.path, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(sent, timeout=10) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as refused:
            return int(refused.code)


def start_http_receiver() -> HttpReceiver:
    receiver: HttpReceiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            behaviour = receiver.behaviour.get(self.path, "missing")
            headers = {key: value for key, value in self.headers.items()}
            refused = None
            with receiver.lock:
                delivery = self.headers.get(DELIVERY_HEADER, "")
                if behaviour == "ok":
                    status = 200
                elif behaviour == "fail_once":
                    status = 200 if delivery in receiver.seen_ids else 503
                    receiver.seen_ids.add(delivery)
                elif behaviour == "always_fail":
                    status = 500
                elif behaviour.startswith("signed:"):
                    try:
                        secret, now = behaviour.split(":", 1)[1], time.time() + receiver.clock_skew_s
                        verify_signature(secret, self.headers.get(SIGNATURE_HEADER), body, now=now)
                        status = 200
                    except SignatureError as exc:
                        status, refused = 401, str(exc)
                else:
                    status = 404
                duplicate = status == 200 and behaviour.startswith("signed:") and delivery in receiver.processed
                if status == 200 and behaviour.startswith("signed:"):
                    receiver.processed.add(delivery)
                receiver.requests.append(Request(self.path, headers, body, status, refused, duplicate))
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if status == 200 else b"no")

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = HttpReceiver(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver


@dataclass
class Mailbox:
    controller: Controller
    messages: list[EmailMessage] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def stop(self) -> None:
        self.controller.stop()


class _Handler:
    def __init__(self, box: list[EmailMessage]):
        self.box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.box.append(message)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


def start_smtp_server() -> Mailbox:
    from tests.conftest import free_port

    messages: list[EmailMessage] = []
    controller = Controller(_Handler(messages), hostname="127.0.0.1", port=free_port())
    controller.start()
    return Mailbox(controller, messages)
