"""Signed webhooks: HMAC-SHA256 over `<timestamp>.<body>`, sent as one header a receiver can check.

    X-Execmetrics-Signature: t=1767225600,v1=76c0f5473c30b2ced2e0166553f24a45109d71bfd17f0cd2e0437ca32f64a414

(secret `whsec_example`, body `{"event":"test"}`: docs/OPERATIONS.md shows the check step by step.)

- `t` is the sending time in Unix seconds, `v1` the lowercase hex HMAC-SHA256 of the bytes
  `str(t) + "." + body` with the channel's secret as key (the body exactly as received, before any JSON parsing).
- A receiver recomputes the HMAC, compares in constant time, and refuses a timestamp more than `tolerance`
  seconds (default 300) from its own clock: a captured request replayed later fails. `X-Execmetrics-Delivery`
  carries the delivery's id, the same on every retry of one message, so a receiver can also drop duplicates.

`verify_signature` is what a receiver written in Python can call; the tests' receiver does exactly that.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Execmetrics-Signature"
DELIVERY_HEADER = "X-Execmetrics-Delivery"
EVENT_HEADER = "X-Execmetrics-Event"
DEFAULT_TOLERANCE_S = 300


class SignatureError(ValueError):
    pass


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header's value for `body` sent at `timestamp` (Unix seconds)."""
    mac = hmac.new(secret.encode("utf-8"), str(timestamp).encode("ascii") + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(
    secret: str, header: str | None, body: bytes, *, tolerance_s: int = DEFAULT_TOLERANCE_S, now: float | None = None
) -> int:
    """Check a received request; returns its timestamp, or raises SignatureError saying why it is refused."""
    if not header:
        raise SignatureError(f"no {SIGNATURE_HEADER} header")
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        raise SignatureError("no valid t= timestamp in the signature header") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise SignatureError(f"timestamp {timestamp} is more than {tolerance_s}s from now: refused as a replay")
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    if not any(hmac.compare_digest(expected, candidate) for candidate in parts.get("v1", [])):
        raise SignatureError("signature does not match the body")
    return timestamp
