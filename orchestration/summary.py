"""`execmetrics summary`: the headline numbers for a window, from the marts (never invented: missing is null)."""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg

from orchestration.summary_product import product_summary
from orchestration.summary_revenue import revenue_summary


def summary(conn: psycopg.Connection, start: date, end: date, tenant: str | None) -> dict[str, Any]:
    return {
        "window": {"start": start.isoformat(), "end": end.isoformat(), "tenant": tenant},
        "financial": revenue_summary(conn, start, end, tenant),
        **product_summary(conn, start, end, tenant),
    }
