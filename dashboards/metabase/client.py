"""A small Metabase REST client (httpx).

Auth is an API key (`x-api-key` header) or a session (`POST /api/session` with username + password, then the
`X-Metabase-Session` header). The HTTP transport is injectable (`Transport`, which `httpx.MockTransport` and
`httpx.HTTPTransport` both satisfy), so tests replace the network and nothing else.

Secrets never reach a log or an exception: requests are logged as method, path and status only, and errors
carry Metabase's message for the failing request, never the request body.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any, Protocol, runtime_checkable

import httpx

log = logging.getLogger(__name__)

SESSION_HEADER = "X-Metabase-Session"
API_KEY_HEADER = "x-api-key"


@runtime_checkable
class Transport(Protocol):
    """What the client needs from the network: one request in, one response out."""

    def handle_request(self, request: httpx.Request) -> httpx.Response: ...


class _TransportAdapter(httpx.BaseTransport):
    def __init__(self, inner: Transport):
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.inner.handle_request(request)


class MetabaseError(RuntimeError):
    def __init__(self, method: str, path: str, status: int | None, message: str):
        self.method, self.path, self.status = method, path, status
        where = f"{method} {path}" + (f" -> HTTP {status}" if status is not None else "")
        super().__init__(f"Metabase {where}: {message}")


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    if isinstance(body, dict):
        for key in ("message", "error", "errors", "specific-errors"):
            if body.get(key):
                return str(body[key])[:500]
    return str(body)[:500]


class MetabaseClient:
    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        username: str | None = None,
        password: str | None = None,
        transport: Transport | None = None,
        timeout: float = 60.0,
    ):
        if not api_key and not (username and password):
            raise ValueError("Metabase needs METABASE_API_KEY, or METABASE_USER and METABASE_PASSWORD")
        self.url = url.rstrip("/")
        self._api_key = api_key
        self._username = username
        self._password = password
        self._http = httpx.Client(
            base_url=self.url,
            transport=_TransportAdapter(transport) if transport is not None else None,
            timeout=timeout,
            headers={"Accept": "application/json"},
        )
        self._authenticated = False

    # -------------------------------------------------------------------------------------------- lifecycle

    def __enter__(self) -> MetabaseClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def login(self) -> None:
        """Authenticate once (lazily called by the first request)."""
        if self._authenticated:
            return
        if self._api_key:
            self._http.headers[API_KEY_HEADER] = self._api_key
        else:
            body = self._send("POST", "/api/session", json={"username": self._username, "password": self._password})
            token = body.get("id") if isinstance(body, dict) else None
            if not token:
                raise MetabaseError("POST", "/api/session", None, "no session id in the response")
            self._http.headers[SESSION_HEADER] = str(token)
        self._authenticated = True

    # -------------------------------------------------------------------------------------------- requests

    def _send(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        try:
            response = self._http.request(method, path, json=json, params=params)
        except httpx.HTTPError as exc:
            raise MetabaseError(method, path, None, f"cannot reach {self.url}: {exc.__class__.__name__}") from None
        log.debug("metabase %s %s -> %s", method, path, response.status_code)
        if response.status_code >= 400:
            raise MetabaseError(method, path, response.status_code, _error_message(response))
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return response.text

    def request(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        self.login()
        return self._send(method, path, json=json, params=params)

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, json: Any = None) -> Any:
        return self.request("POST", path, json=json if json is not None else {})

    def put(self, path: str, json: Any) -> Any:
        return self.request("PUT", path, json=json)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)


def unwrap_list(body: Any) -> list[dict[str, Any]]:
    """List endpoints answer a bare list in some Metabase versions and `{"data": [...], ...}` in others."""
    if isinstance(body, dict):
        body = body.get("data", [])
    return [item for item in (body or []) if isinstance(item, dict)]
