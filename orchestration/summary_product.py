"""Product numbers for `execmetrics summary`, read from marts.fct_daily_metrics (definitions: docs/METRICS.md)."""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg

ALL_TENANTS = "__all__"

_SQL = """
with window_rows as (
    select *
    from marts.fct_daily_metrics
    where tenant_id = %(tenant)s
      and metric_date between %(start)s and %(end)s
)
select
    (select tenants_total from window_rows order by metric_date desc limit 1) as customers_total,
    coalesce(sum(tenants_new), 0) as customers_new,
    coalesce(sum(tenants_churned), 0) as customers_churned,
    avg(dau) as dau_avg,
    avg(wau) as wau_avg,
    avg(mau) as mau_avg,
    coalesce(sum(jobs_total), 0) as jobs_total,
    coalesce(sum(jobs_succeeded), 0) as jobs_succeeded,
    coalesce(sum(jobs_failed), 0) as jobs_failed,
    sum(jobs_avg_duration_s * (jobs_succeeded + jobs_failed))
        / nullif(sum(jobs_succeeded + jobs_failed) filter (where jobs_avg_duration_s is not null), 0)
        as avg_duration_s
from window_rows
"""


def _num(value: Any, digits: int = 2) -> float | None:
    return None if value is None else round(float(value), digits)


def product_summary(conn: psycopg.Connection, start: date, end: date, tenant: str | None) -> dict[str, Any]:
    """Customers, engagement and jobs for [start, end] (inclusive local days); tenant None = all tenants.

    customers.total is the count at the end of the window; new / churned are sums over it. DAU / WAU / MAU are
    averages of the daily values; dau_mau_ratio = average DAU / average MAU. success_rate = succeeded /
    (succeeded + failed); avg_duration_s weights each day's average by its finished jobs.
    """
    params = {"tenant": tenant or ALL_TENANTS, "start": start, "end": end}
    cur = conn.execute(_SQL, params)
    row = cur.fetchone()
    names = [col.name for col in cur.description or []]
    values = dict(zip(names, row, strict=True)) if row is not None else dict.fromkeys(names)
    dau, mau = values.get("dau_avg"), values.get("mau_avg")
    succeeded, failed = int(values.get("jobs_succeeded") or 0), int(values.get("jobs_failed") or 0)
    return {
        "customers": {
            "total": int(values.get("customers_total") or 0),
            "new": int(values.get("customers_new") or 0),
            "churned": int(values.get("customers_churned") or 0),
        },
        "engagement": {
            "dau_avg": _num(dau),
            "wau_avg": _num(values.get("wau_avg")),
            "mau_avg": _num(mau),
            "dau_mau_ratio": _num(float(dau) / float(mau), 4) if dau is not None and mau else None,
        },
        "jobs": {
            "total": int(values.get("jobs_total") or 0),
            "succeeded": succeeded,
            "failed": failed,
            "success_rate": round(succeeded / (succeeded + failed), 4) if succeeded + failed else None,
            "avg_duration_s": _num(values.get("avg_duration_s"), 3),
        },
    }
