"""The Stripe transport (the official SDK's `StripeClient`) behind a small Protocol, and the resilient client
that every request of the extractor goes through: a request-rate ceiling, retries with exponential backoff and
jitter on 429 / 5xx / dropped connections / timeouts, a request counter, and secret redaction.

Tests swap the transport (`Transport`), never the logic: retries, pacing and counting live in `StripeApi`.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol
from urllib.parse import quote

from extract.stripe import STRIPE_API_VERSION

log = logging.getLogger("execmetrics.extract.stripe")

_KEY_PATTERN = re.compile(r"\b(sk|rk|pk)_(test|live)_[A-Za-z0-9]+")


def redact(text: str, secret: str | None = None) -> str:
    """`text` without the API key (and without anything shaped like a Stripe key)."""
    if secret:
        text = text.replace(secret, "***")
    return _KEY_PATTERN.sub(lambda m: f"{m.group(1)}_{m.group(2)}_***", text)


class StripeApiError(RuntimeError):
    """A request failed for good. The message never contains the API key."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class TransientError(StripeApiError):
    """Worth retrying: 429, 5xx, a dropped connection, a timeout, an unreadable body."""


class NotFoundError(StripeApiError):
    """HTTP 404: the object (or the whole endpoint) does not exist."""


class AuthError(StripeApiError):
    """HTTP 401/403: the key is wrong or lacks a read permission."""


class UnparsableResponse(TransientError):
    """The API answered 2xx with a body that is not JSON."""

    def __init__(self, message: str, body: str):
        super().__init__(message, 200)
        self.body = body


class Transport(Protocol):
    """One HTTP GET against the Stripe API, returning the decoded JSON object.

    Raises TransientError, NotFoundError, AuthError or StripeApiError; never retries by itself.
    """

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]: ...


class SdkTransport:
    """The official SDK (`stripe.StripeClient.raw_request`), pinned to STRIPE_API_VERSION, SDK retries off."""

    def __init__(self, api_key: str, api_base: str | None = None, timeout: float = 30.0):
        import stripe

        self._secret = api_key
        self._stripe = stripe
        base = {"api": api_base.rstrip("/")} if api_base else None
        self._client = stripe.StripeClient(
            api_key,
            stripe_version=STRIPE_API_VERSION,
            base_addresses=base,  # type: ignore[arg-type]
            max_network_retries=0,
            http_client=stripe.RequestsClient(timeout=timeout),
        )
        self.api_base = api_base or stripe.DEFAULT_API_BASE

    def __repr__(self) -> str:  # never show the key
        return f"SdkTransport(api_base={self.api_base!r})"

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        stripe = self._stripe
        try:
            response = self._client.raw_request("get", path, **dict(params or {}))
        except stripe.RateLimitError:
            raise TransientError(f"GET {path}: rate limited (429)", 429) from None
        except stripe.APIConnectionError as exc:
            raise TransientError(f"GET {path}: connection failed: {redact(str(exc), self._secret)}") from None
        except (stripe.AuthenticationError, stripe.PermissionError) as exc:
            status = exc.http_status
            reason = redact(exc.user_message or "", self._secret)
            raise AuthError(
                f"GET {path}: the Stripe API refused the key (HTTP {status}): {reason}"
                " — check STRIPE_API_KEY and its read permissions (docs/STRIPE.md)",
                status,
            ) from None
        except RecursionError:
            raise UnparsableResponse(f"GET {path}: response JSON nested too deeply", "") from None
        except stripe.StripeError as exc:
            status = exc.http_status
            message = redact(str(exc.user_message or exc), self._secret)[:500]
            if status == 404:
                raise NotFoundError(f"GET {path}: not found (404)", 404) from None
            if status is None or status >= 500 or status == 429:
                raise TransientError(f"GET {path}: HTTP {status}: {message}", status) from None
            if status < 300:
                body = exc.http_body or ""
                raise UnparsableResponse(f"GET {path}: unparsable response body", redact(body, self._secret)) from None
            raise StripeApiError(f"GET {path}: HTTP {status}: {message}", status) from None
        data = response.data if hasattr(response, "data") else None
        if not isinstance(data, dict):
            raise UnparsableResponse(f"GET {path}: response is not a JSON object", redact(str(response.body)[:10_000]))
        return _plain(data)


def _plain(value: Any) -> Any:
    """OrderedDicts (the SDK's json hook) → dicts, recursively."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class RateLimiter:
    """At most `rate` request starts per second (evenly spaced), shared by threads."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if rate <= 0:
            raise ValueError("the request-rate ceiling must be positive")
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            self._sleep(start - now)


class StripeApi:
    """What the extractor talks to: pacing, retries, counting over a Transport."""

    def __init__(
        self,
        transport: Transport,
        *,
        max_requests_per_second: float = 20.0,
        max_attempts: int = 8,
        backoff_base: float = 0.5,
        backoff_cap: float = 20.0,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.transport = transport
        self.limiter = RateLimiter(max_requests_per_second, sleep=sleep)
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._rng = rng or random.Random()
        self._sleep = sleep
        self.requests = 0  # HTTP attempts, retries included
        self.retries = 0
        self.failures_by_kind: dict[str, int] = {}

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: uniform in [d/2, d] where d = base * 2**attempt (capped)."""
        ceiling = min(self.backoff_cap, self.backoff_base * (2**attempt))
        return self._rng.uniform(ceiling / 2, ceiling)

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        attempt = 0
        while True:
            self.limiter.acquire()
            self.requests += 1
            log.debug("GET %s %s", path, dict(params or {}))
            try:
                return self.transport.get(path, params)
            except TransientError as exc:
                kind = type(exc).__name__ if exc.status is None else str(exc.status)
                self.failures_by_kind[kind] = self.failures_by_kind.get(kind, 0) + 1
                attempt += 1
                if attempt >= self.max_attempts:
                    log.error("stripe: %s; giving up after %d attempts", exc, attempt)
                    raise exc from None
                delay = self.backoff(attempt - 1)
                self.retries += 1
                log.warning("stripe: %s; retry %d/%d in %.2fs", exc, attempt, self.max_attempts - 1, delay)
                self._sleep(delay)

    def retrieve(self, table: str, object_id: str) -> dict[str, Any]:
        return self.get(f"/v1/{table}/{quote(object_id, safe='')}")
