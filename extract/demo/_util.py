"""Small deterministic helpers for the demo generator: seeded sub-streams, sampling, ids, time arithmetic."""

from __future__ import annotations

import calendar
import math
import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MINUTE_MS = 60_000

_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def substream(seed: int, *parts: object) -> random.Random:
    """An independent random stream named by `parts`.

    A str seed is hashed with SHA-512 by `random.Random` (seed version 2), so the stream does not depend on
    PYTHONHASHSEED, the platform or the order in which other streams are used.
    """
    return random.Random(":".join([str(seed), *map(str, parts)]))


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam < 30:
        limit = math.exp(-lam)
        k = 0
        p = rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k
    return max(0, round(rng.gauss(lam, math.sqrt(lam))))


def lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(sigma * rng.gauss(0.0, 1.0))


def weighted(rng: random.Random, options: Sequence[tuple[str, float]]) -> str:
    total = sum(w for _, w in options)
    x = rng.random() * total
    for value, w in options:
        x -= w
        if x < 0:
            return value
    return options[-1][0]


def stripe_id(rng: random.Random, prefix: str, length: int = 14) -> str:
    return prefix + "".join(rng.choice(_ALNUM) for _ in range(length))


def hex_id(rng: random.Random, prefix: str, length: int = 12) -> str:
    return prefix + f"{rng.getrandbits(4 * length):0{length}x}"


# --- time ------------------------------------------------------------------------------------------------


def ms_to_dt(ms: int) -> datetime:
    # exact: ms / 1000 is within 0.1 µs of the true value and fromtimestamp rounds to whole microseconds
    return datetime.fromtimestamp(ms / 1000, UTC)


def date_to_ms(d: date) -> int:
    return (d - date(1970, 1, 1)).days * DAY_MS


def ms_to_date(ms: int) -> date:
    return date(1970, 1, 1) + timedelta(days=ms // DAY_MS)


def ts_to_date(ts: int) -> date:
    return date(1970, 1, 1) + timedelta(days=ts // 86_400)


def add_months(anchor: datetime, months: int) -> datetime:
    """Stripe's billing-cycle arithmetic: keep the anchor's day, clamped to the month's last day."""
    index = anchor.year * 12 + (anchor.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    day = min(anchor.day, calendar.monthrange(year, month)[1])
    return anchor.replace(year=year, month=month, day=day)


def unix(dt: datetime) -> int:
    return int((dt - EPOCH).total_seconds())


def from_unix(ts: int) -> datetime:
    return EPOCH + timedelta(seconds=ts)


def month_starts(start: date, months: int) -> list[date]:
    out = []
    y, m = start.year, start.month
    for _ in range(months):
        out.append(date(y, m, 1))
        m += 1
        if m == 13:
            y, m = y + 1, 1
    return out
