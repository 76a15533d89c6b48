"""The metric names alerts can carry: the seed `alert_metrics` (one list, read by dbt and by the channels file)."""

from __future__ import annotations

import csv
from functools import lru_cache

from extract.settings import PROJECT_ROOT

ALERT_METRICS_SEED = PROJECT_ROOT / "dbt_project" / "seeds" / "alert_metrics.csv"


@lru_cache(maxsize=1)
def known_metrics() -> frozenset[str]:
    with ALERT_METRICS_SEED.open(encoding="utf-8", newline="") as handle:
        return frozenset(row["metric"] for row in csv.DictReader(handle))


def unknown_metrics(names: list[str]) -> list[str]:
    known = known_metrics()
    return sorted({name for name in names if name not in known})
