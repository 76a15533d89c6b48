"""`execmetrics summary`: the headline numbers for a window, read from the reporting layer only (schema `reporting`,
the tables the dashboards and the board pack read; definitions: docs/METRICS.md, Reporting). Missing is null,
never invented.

- financial: MRR, ARR, paying customers, ARPA and month-to-date NRR / GRR on the window's last loaded day (the day
  rows of rpt_kpi_periods: the executive tiles' numbers), and the movements of the last closed month in the window
  (rpt_revenue_monthly: new paying customers, paying customers lost, churn rates, LTV, CAC).
- customers: tenant accounts open at the end, opened and closed in the window (app accounts, not paying customers).
- engagement: average DAU over the window, WAU and MAU on its last day, DAU / MAU = average DAU / MAU.
- jobs: jobs run (succeeded + failed), succeeded, failed, cancelled; success rate = succeeded / run.
Flows are sums of the window's day rows and stocks the last day's, exactly as rpt_kpi_periods builds a period, so
the summary of a calendar month is that month's row.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg
from psycopg.rows import dict_row
from rich.table import Table

from dashboards.reporting import UnknownTenant, resolve_tenant
from extract.settings import Settings
from extract.warehouse import Warehouse

__all__ = ["SummaryError", "UnknownTenant", "collect_summary", "render_summary", "summary"]


class SummaryError(RuntimeError):
    """The summary cannot be read (an unknown tenant, no reporting layer yet): the message says what to do."""


_DAYS_SQL = """
with days as (
    select *
    from reporting.rpt_kpi_periods
    where grain = 'day' and tenant_id = %(tenant)s and period_start between %(start)s and %(end)s
),
last_day as (
    select * from days order by period_start desc limit 1
)
select
    (select period_start from last_day) as as_of,
    (select reporting_currency from last_day) as reporting_currency,
    (select mrr from last_day) as mrr,
    (select arr from last_day) as arr,
    (select paying_customers from last_day) as paying_customers,
    (select arpa from last_day) as arpa,
    (select nrr_mtd from last_day) as nrr_mtd,
    (select grr_mtd from last_day) as grr_mtd,
    (select tenant_accounts_open from last_day) as tenant_accounts_open,
    (select wau from last_day) as wau,
    (select mau from last_day) as mau,
    count(*) as days,
    sum(tenant_accounts_new) as tenant_accounts_new,
    sum(tenant_accounts_closed) as tenant_accounts_closed,
    avg(dau) as dau_avg,
    sum(jobs_run) as jobs_run,
    sum(jobs_succeeded) as jobs_succeeded,
    sum(jobs_failed) as jobs_failed,
    sum(jobs_cancelled) as jobs_cancelled
from days
"""

_MONTH_SQL = """
select month, new_paying_customers, paying_customers_lost, customer_churn_rate, gross_revenue_churn_rate, nrr, grr,
    ltv, cac, policy
from reporting.rpt_revenue_monthly
where tenant_id = %(tenant)s and month_end <= %(end)s and month >= date_trunc('month', %(start)s::date)
order by month desc
limit 1
"""


def _num(value: Any, digits: int = 2) -> float | None:
    return None if value is None else round(float(value), digits)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def summary(conn: psycopg.Connection, start: date, end: date, tenant: str | None) -> dict[str, Any]:
    tenant_id, tenant_name = resolve_tenant(conn, tenant)
    params = {"tenant": tenant_id, "start": start, "end": end}
    with conn.cursor(row_factory=dict_row) as cur:
        days = cur.execute(_DAYS_SQL, params).fetchone() or {}
        month = cur.execute(_MONTH_SQL, params).fetchone() or {}
    dau, mau = days.get("dau_avg"), days.get("mau")
    run, succeeded = _int(days.get("jobs_run")), _int(days.get("jobs_succeeded"))
    as_of = days.get("as_of")
    return {
        "window": {"start": start.isoformat(), "end": end.isoformat(), "tenant": tenant_name},
        "financial": {
            "as_of": as_of.isoformat() if as_of else None,
            "currency": days.get("reporting_currency"),
            "mrr": _num(days.get("mrr")),
            "arr": _num(days.get("arr")),
            "paying_customers": _int(days.get("paying_customers")),
            "arpa": _num(days.get("arpa")),
            "nrr_month_to_date": _num(days.get("nrr_mtd"), 4),
            "grr_month_to_date": _num(days.get("grr_mtd"), 4),
            "closed_month": month["month"].isoformat() if month.get("month") else None,
            "new_paying_customers": _int(month.get("new_paying_customers")),
            "paying_customers_lost": _int(month.get("paying_customers_lost")),
            "customer_churn_rate": _num(month.get("customer_churn_rate"), 4),
            "gross_revenue_churn_rate": _num(month.get("gross_revenue_churn_rate"), 4),
            "nrr_closed_month": _num(month.get("nrr"), 4),
            "ltv": _num(month.get("ltv")),
            "cac": _num(month.get("cac")),
            "policy": month.get("policy"),
        },
        "customers": {
            "tenant_accounts_open": _int(days.get("tenant_accounts_open")),
            "tenant_accounts_opened": _int(days.get("tenant_accounts_new")),
            "tenant_accounts_closed": _int(days.get("tenant_accounts_closed")),
        },
        "engagement": {
            "dau_avg": _num(dau),
            "wau": _int(days.get("wau")),
            "mau": _int(mau),
            "dau_mau_ratio": _num(float(dau) / float(mau), 4) if dau is not None and mau else None,
        },
        "jobs": {
            "run": run,
            "succeeded": succeeded,
            "failed": _int(days.get("jobs_failed")),
            "cancelled": _int(days.get("jobs_cancelled")),
            "success_rate": round(succeeded / run, 4) if run and succeeded is not None else None,
        },
    }


def collect_summary(settings: Settings, start: date, end: date, tenant: str | None) -> dict[str, Any]:
    """The summary read as the reader role; SummaryError for an unknown tenant or a warehouse without the reporting
    layer."""
    from psycopg.errors import UndefinedTable

    with Warehouse(settings).as_role("reader").connect() as conn:
        try:
            return summary(conn, start, end, tenant)
        except UnknownTenant as exc:
            raise SummaryError(str(exc)) from None
        except UndefinedTable as exc:
            missing = exc.diag.message_primary or str(exc)
            raise SummaryError(
                f"the reporting layer is not built ({missing}): run the pipeline or dbt build first"
            ) from None


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 10 else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def render_summary(data: dict[str, Any]) -> Table:
    window = data.get("window", {})
    title = f"execmetrics summary {window.get('start')} → {window.get('end')} ({window.get('tenant') or 'all tenants'})"
    grid = Table("section", "metric", "value", title=title)
    for section in ("financial", "customers", "engagement", "jobs"):
        for key, value in (data.get(section) or {}).items():
            grid.add_row(section, key, _fmt(value))
    return grid
