"""Revenue numbers for `execmetrics summary` (the `financial` block), read from the revenue marts.

Definitions (docs/METRICS.md, Revenue):
- mrr: MRR on the window's last day (the latest ledger day on or before `end`), reporting currency; arr = 12 × mrr.
- nrr / grr: of the customers paying on the day before the window starts, their MRR at the end over their MRR at
  the start, each customer's change measured in their own billing currency (FX-neutral, like fct_revenue_monthly);
  grr caps every customer at their starting MRR (≤ 1). New and returning customers are not in either.
- arpa: mrr / paying customers on that day.
Missing marts or no paying customer give nulls, never invented numbers.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import psycopg

ALL_TENANTS = "__all__"

_SQL = """
with ledger as (
    select *
    from marts.fct_mrr_daily
    where (%(tenant)s::text is null or tenant_id = %(tenant)s::text)
),
end_day as (
    select max(day) as day from ledger where day <= %(end)s
),
at_end as (
    select customer_id, mrr, mrr_original_minor
    from ledger
    where day = (select day from end_day) and mrr > 0
),
at_start as (
    select customer_id, mrr, mrr_original_minor
    from ledger
    where day = %(before_start)s and mrr > 0
),
retained as (
    select
        at_start.mrr as start_mrr,
        at_start.mrr * coalesce(at_end.mrr_original_minor, 0) / nullif(at_start.mrr_original_minor, 0) as end_mrr
    from at_start
    left join at_end on at_start.customer_id = at_end.customer_id
)
select
    (select day from end_day) as as_of,
    (select sum(mrr) from at_end) as mrr,
    (select count(*) from at_end) as paying_customers,
    (select sum(end_mrr) / nullif(sum(start_mrr), 0) from retained) as nrr,
    (select sum(least(end_mrr, start_mrr)) / nullif(sum(start_mrr), 0) from retained) as grr,
    (select min(policy) from ledger) as policy
"""


def _num(value: Any, digits: int = 2) -> float | None:
    return None if value is None else round(float(value), digits)


def revenue_summary(conn: psycopg.Connection, start: date, end: date, tenant: str | None) -> dict[str, Any]:
    """MRR, ARR, NRR, GRR and ARPA for [start, end] (inclusive days); tenant None (or '__all__') = all tenants."""
    params = {
        "tenant": None if tenant in (None, ALL_TENANTS) else tenant,
        "end": end,
        "before_start": start - timedelta(days=1),
    }
    empty: dict[str, Any] = {
        "mrr": None,
        "arr": None,
        "nrr": None,
        "grr": None,
        "arpa": None,
        "paying_customers": None,
        "as_of": None,
        "policy": None,
    }
    try:
        with conn.transaction():
            cur = conn.execute(_SQL, params)
            row = cur.fetchone()
            names = [col.name for col in cur.description or []]
    except psycopg.errors.UndefinedTable:
        return empty
    if row is None:
        return empty
    values = dict(zip(names, row, strict=True))
    mrr = values["mrr"]
    paying = int(values["paying_customers"] or 0)
    return {
        "mrr": _num(mrr),
        "arr": _num(mrr * 12) if mrr is not None else None,
        "nrr": _num(values["nrr"], 4),
        "grr": _num(values["grr"], 4),
        "arpa": _num(mrr / paying) if mrr is not None and paying else None,
        "paying_customers": paying if values["as_of"] is not None else None,
        "as_of": values["as_of"].isoformat() if values["as_of"] is not None else None,
        "policy": values["policy"],
    }
