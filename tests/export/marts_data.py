"""Small hand-made `marts.*` tables for the exporter tests (only the columns the exporter reads, plus a few more).

Daily metrics: 2024-01-01 .. 2024-03-31 for tenants '__all__', 't1', 't2'. Revenue: months 2024-01 .. 2024-03.
The numbers the tests assert (all-tenants rows):
- 2024-03-31: dau 1234, wau 2345, mau 5000, dau_mau_ratio 0.2468, jobs_success_rate 0.9871, api_p95 412.4 ms
  2024-02-29 (one month earlier): dau 1000, dau_mau_ratio 0.2, jobs_success_rate 0.99
- activation_rate: latest day with a closed window is 2024-03-25 (0.4126); later days have NULL/open windows
- 2024-03: mrr 123456.78 (Feb 100000), arr 1481481.36, nrr NULL, grr 0.953, customers 1379, arpa 89.5,
  customer_churn_rate 0.021 (Feb 0.025), quick_ratio 3.456, reporting_currency EUR when `currency` is given;
  runway 12.9 months (Feb 14.2)
"""

from __future__ import annotations

from datetime import date, timedelta

import psycopg

ALL = "__all__"
TENANTS = (ALL, "t1", "t2")
DAY0, DAY1 = date(2024, 1, 1), date(2024, 3, 31)
MONTHS = (date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1))


def days() -> list[date]:
    return [DAY0 + timedelta(n) for n in range((DAY1 - DAY0).days + 1)]


def create_daily_metrics(conn: psycopg.Connection) -> None:
    conn.execute("create schema if not exists marts")
    conn.execute(
        """
        create table marts.fct_daily_metrics (
            metric_date date not null, tenant_id text not null, is_all_tenants boolean,
            dau integer, wau integer, mau integer, dau_mau_ratio numeric(12, 6),
            signups integer, activated_users integer, activation_rate numeric(12, 6),
            activation_window_complete boolean,
            jobs_success_rate numeric(12, 6), api_p95_latency_ms numeric(12, 3),
            primary key (tenant_id, metric_date)
        )
        """
    )
    rows = []
    for i, d in enumerate(days()):
        for k, t in enumerate(TENANTS):
            scale = 1.0 if t == ALL else 0.4 + 0.2 * k
            dau = round((600 + 5 * i) * scale)
            mau = round(4000 * scale)
            closed = d <= DAY1 - timedelta(6)
            rows.append(
                (d, t, t == ALL, dau, round(dau * 1.8), mau, round(dau / mau, 6), 40, 16,
                 0.4 if closed else None, closed, 0.98, 380.0 + i)
            )  # fmt: skip
    with conn.cursor() as cur:
        cur.executemany(
            "insert into marts.fct_daily_metrics values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", rows
        )
    fixed = {
        DAY1: dict(
            dau=1234, wau=2345, mau=5000, dau_mau_ratio=0.2468, jobs_success_rate=0.9871, api_p95_latency_ms=412.4
        ),
        date(2024, 2, 29): dict(dau=1000, dau_mau_ratio=0.2, jobs_success_rate=0.99),
        date(2024, 3, 25): dict(activation_rate=0.4126),
    }  # fmt: skip
    for d, values in fixed.items():
        sets = ", ".join(f"{k} = %({k})s" for k in values)
        conn.execute(
            f"update marts.fct_daily_metrics set {sets} where metric_date = %(d)s and tenant_id = %(t)s",
            {**values, "d": d, "t": ALL},
        )


def create_revenue_monthly(conn: psycopg.Connection, *, currency: str | None = None, buckets: bool = False) -> None:
    """Column names as in dbt_project/models/marts/revenue (a subset); `buckets` adds the movement columns."""
    conn.execute("create schema if not exists marts")
    currency_col = ", reporting_currency text" if currency else ""
    bucket_cols = (
        ", new_mrr numeric, expansion_mrr numeric, contraction_mrr numeric, churned_mrr numeric,"
        " reactivation_mrr numeric"
        if buckets
        else ""
    )
    conn.execute(
        f"""
        create table marts.fct_revenue_monthly (
            month date not null, tenant_id text not null, mrr numeric(20, 4), arr numeric(20, 4),
            nrr numeric(12, 6), grr numeric(12, 6), customers integer, arpa numeric(20, 4),
            customer_churn_rate numeric(12, 6), quick_ratio numeric(12, 4), policy text{currency_col}{bucket_cols}
        )
        """
    )
    data = {
        MONTHS[0]: (90000, 1080000, 1.01, 0.96, 1100, 81.82, 0.03, 2.5),
        MONTHS[1]: (100000, 1200000, 1.02, 0.955, 1200, 83.33, 0.025, 2.9),
        MONTHS[2]: (123456.78, 1481481.36, None, 0.953, 1379, 89.5, 0.021, 3.456),
    }
    with conn.cursor() as cur:
        for i, (m, (mrr, arr, nrr, grr, cust, arpa, churn, qr)) in enumerate(data.items()):
            for t in TENANTS:
                f = 1.0 if t == ALL else 0.5
                extra: tuple[object, ...] = (currency,) if currency else ()
                if buckets:
                    extra += (1000 * (i + 1) * f, 500 * f, 100 * f, 200 * f, 60 * f)
                cur.execute(
                    f"insert into marts.fct_revenue_monthly values ({', '.join(['%s'] * (11 + len(extra)))})",
                    (m, t, mrr * f, arr * f, nrr, grr, round(cust * f), arpa, churn, qr, "stripe", *extra),
                )


def create_finance_monthly(conn: psycopg.Connection) -> None:
    conn.execute(
        """
        create table marts.fct_finance_monthly (
            month date not null, tenant_id text not null, reporting_currency text, cash_balance numeric(20, 4),
            net_burn numeric(20, 4), runway_months numeric(12, 2)
        )
        """
    )
    conn.execute(
        "insert into marts.fct_finance_monthly values"
        " ('2024-01-01', '__all__', 'USD', 500000, 30000, 16.1),"
        " ('2024-02-01', '__all__', 'USD', 470000, 31000, 14.2),"
        " ('2024-03-01', '__all__', 'USD', 438000, 33000, 12.9)"
    )


MOVES = {
    MONTHS[0]: {"new": 8000, "expansion": 3000, "reactivation": 500, "contraction": 1200, "churn": 2300},
    MONTHS[1]: {"new": 9000, "expansion": 4000, "reactivation": 0, "contraction": 1000, "churn": 2000},
    MONTHS[2]: {"new": 15000, "expansion": 9500, "reactivation": 1200, "contraction": 800, "churn": 1443.22},
}


def create_mrr_movements(conn: psycopg.Connection) -> None:
    """The real shape: one row per customer per month, wide bucket columns (losses positive), no '__all__' rows.
    Here each customer has one movement; tenant t1 holds 60% of every bucket and t2 40%."""
    conn.execute(
        """
        create table marts.fct_mrr_movements (
            month date not null, customer_id text not null, tenant_id text not null, currency text,
            starting_mrr numeric(20, 4), new_mrr numeric(20, 4), expansion_mrr numeric(20, 4),
            contraction_mrr numeric(20, 4), churned_mrr numeric(20, 4), reactivation_mrr numeric(20, 4),
            fx_mrr numeric(20, 4), ending_mrr numeric(20, 4), movement_type text
        )
        """
    )
    order = ("new", "expansion", "contraction", "churn", "reactivation")
    with conn.cursor() as cur:
        for m, by_type in MOVES.items():
            for t, share in (("t1", 0.6), ("t2", 0.4)):
                for ty in order:
                    amounts = [by_type[ty] * share if k == ty else 0 for k in order]
                    cur.execute(
                        "insert into marts.fct_mrr_movements values"
                        " (%s, %s, %s, 'USD', 0, %s, %s, %s, %s, %s, 0, 0, %s)",
                        (m, f"cus_{t}_{ty}", t, *amounts, ty),
                    )


def create_cohort_retention(conn: psycopg.Connection) -> None:
    """The real shape: user and tenant cohorts, week and month periods, no tenant_id; NULL = not observable."""
    conn.execute(
        """
        create table marts.fct_cohort_retention (
            cohort_type text not null, cohort_month date not null, period_type text not null,
            period_number integer not null, cohort_size integer, is_observable boolean,
            retained_members integer, retention_rate numeric
        )
        """
    )
    with conn.cursor() as cur:
        for cohort_type, size0 in (("users", 2000), ("tenants", 200)):
            for ci, cohort in enumerate(MONTHS):
                size = size0 + 10 * ci
                for period_type, periods in (("month", 3), ("week", 8)):
                    for p in range(periods):
                        observable = (period_type == "month" and p < 3 - ci) or period_type == "week"
                        base = [1.0, 0.82, 0.74][p] if period_type == "month" else 0.5
                        rate = (base - 0.02 * ci - (0.1 if cohort_type == "users" else 0)) if observable else None
                        cur.execute(
                            "insert into marts.fct_cohort_retention values (%s, %s, %s, %s, %s, %s, %s, %s)",
                            (cohort_type, cohort, period_type, p, size, observable,
                             round(size * rate) if rate is not None else None, rate),
                        )  # fmt: skip


def create_metric_alerts(conn: psycopg.Connection) -> None:
    conn.execute(
        """
        create table marts.fct_metric_alerts (
            metric_date date not null, tenant_id text not null, metric text not null, rule text, rule_id text,
            severity text, metric_value numeric, expected_value numeric, z_score numeric, message text
        )
        """
    )
    rows = [
        (date(2024, 3, 30), ALL, "dau", "anomaly", "robust_z", "warning", 1100, 1350, -3.4,
         "DAU 18.5% below its 28-day baseline"),
        (date(2024, 3, 30), "t2", "api_5xx_rate", "threshold", "api_5xx", "info", 0.012, 0.01, None,
         "5xx rate above 1%"),
        (date(2024, 3, 28), "t1", "api_p95_latency_ms", "threshold", "p95_latency", "critical", 950, 410, None,
         "API p95 latency more than doubled"),
        (date(2024, 2, 14), "t2", "jobs_success_rate", "threshold", "job_success", "warning", 0.91, 0.98, None,
         "Job success rate dropped"),
    ]  # fmt: skip
    with conn.cursor() as cur:
        cur.executemany("insert into marts.fct_metric_alerts values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)


def create_dim_plans(conn: psycopg.Connection) -> None:
    """A mart with neither a date nor a tenant column (exported whole), with non-ASCII text and CSV quoting."""
    conn.execute("create table marts.dim_plans (plan_id text primary key, plan_name text, price numeric)")
    conn.execute("insert into marts.dim_plans values ('p1', 'Équipe — Café', 49.5), ('p2', 'Growth, \"quoted\"', 99)")


def create_all(conn: psycopg.Connection, *, currency: str | None = None) -> None:
    create_daily_metrics(conn)
    create_revenue_monthly(conn, currency=currency)
    create_finance_monthly(conn)
    create_mrr_movements(conn)
    create_cohort_retention(conn)
    create_metric_alerts(conn)
    create_dim_plans(conn)
