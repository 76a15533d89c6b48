"""Small read functions, one per board-pack section. Each checks that its mart and columns exist before asking
for data, and returns either the data or `Unavailable(reason)` — never a zero standing in for "unknown".

Tenant scope: `tenant=None` reads the all-tenants rows (`tenant_id = '__all__'`); a tenant id reads that tenant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

import psycopg
from psycopg import sql

from dashboards.export.catalog import ALL_TENANTS, TENANT_COLUMN, MartCatalog, is_month_column
from dashboards.export.formatting import (
    NA,
    currency_exponent,
    fmt_day,
    fmt_delta,
    fmt_month,
    fmt_value,
    to_float,
)
from dashboards.export.metrics import (
    COHORT_RETENTION,
    DAILY_METRICS,
    KPI_BY_KEY,
    METRIC_ALERTS,
    MOVEMENT_BUCKETS,
    MRR_MOVEMENTS,
    REVENUE_MONTHLY,
    KpiSpec,
)

T = TypeVar("T")

MINOR_UNIT_SUFFIXES = ("_minor_units", "_minor", "_cents")
# Only a reporting-currency column names the currency amounts are stated in: a mart's `currency` column is the
# customer's billing currency (its amounts are converted to the reporting currency).
CURRENCY_COLUMNS = ("reporting_currency",)
EXPONENT_COLUMNS = ("currency_exponent", "minor_unit_exponent")


@dataclass(frozen=True)
class Unavailable:
    reason: str

    def __str__(self) -> str:
        return f"{NA} — {self.reason}"


@dataclass(frozen=True)
class Window:
    start: date
    end: date


@dataclass(frozen=True)
class Source:
    table: str
    column: str
    date_column: str

    @property
    def monthly(self) -> bool:
        return is_month_column(self.date_column)


@dataclass
class Kpi:
    spec: KpiSpec
    value: float | None = None
    display: str = NA
    reason: str | None = None  # set when the value is n/a
    period: date | None = None
    period_label: str = ""
    delta: str | None = None
    delta_note: str | None = None  # why there is no delta
    delta_good: bool | None = None
    source: str = ""

    @property
    def available(self) -> bool:
        return self.value is not None


@dataclass
class Series:
    points: list[tuple[date, float]]
    source: str
    currency: str | None = None


@dataclass
class Movements:
    months: list[date]
    buckets: list[tuple[str, str, list[float]]]  # (key, label, values per month; negative = lost MRR)
    currency: str
    source: str


@dataclass
class Cohorts:
    cohorts: list[date]
    periods: list[int]
    values: dict[tuple[int, int], float]  # (cohort index, period) -> retention fraction
    sizes: dict[int, float] = field(default_factory=dict)
    basis: str | None = None  # e.g. "logo" when the mart holds several retention types
    source: str = ""
    period_unit: str = "month"


@dataclass
class Alerts:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    total: int
    source: str


def guarded(conn: psycopg.Connection, fn: Callable[[], T | Unavailable]) -> T | Unavailable:
    """Run one section's queries in a savepoint so a failure there is reported, not fatal, and not sticky."""
    try:
        with conn.transaction():
            return fn()
    except psycopg.Error as exc:
        message = exc.diag.message_primary if exc.diag and exc.diag.message_primary else str(exc)
        return Unavailable(f"query failed: {message}")


def _ident(table: str, catalog: MartCatalog) -> sql.Composable:
    return sql.SQL("{}.{}").format(sql.Identifier(catalog.schema), sql.Identifier(table))


def tenant_condition(catalog: MartCatalog, table: str, tenant: str | None) -> sql.Composable | Unavailable:
    if catalog.has_tenant(table):
        return sql.SQL("{} = {}").format(sql.Identifier(TENANT_COLUMN), sql.Literal(tenant or ALL_TENANTS))
    if tenant is not None:
        return Unavailable(f"{catalog.qualified(table)} has no tenant_id, cannot show tenant {tenant}")
    return sql.SQL("true")


# --------------------------------------------------------------------------------------------- window


def latest_data_date(conn: psycopg.Connection, catalog: MartCatalog) -> date | None:
    """The most recent date in the main marts (daily metrics, then revenue), else in any mart."""
    tables = [t for t in (DAILY_METRICS, REVENUE_MONTHLY) if catalog.has_table(t)] or sorted(catalog.tables)
    best: date | None = None
    for table in tables:
        col = catalog.date_column(table)
        if col is None:
            continue
        query = sql.SQL("select max({}::date) from {}").format(sql.Identifier(col), _ident(table, catalog))

        def run(query: sql.Composed = query) -> tuple[Any, ...] | None:
            return conn.execute(query).fetchone()

        got = guarded(conn, run)
        if not isinstance(got, Unavailable) and got and got[0] is not None:
            best = got[0] if best is None else max(best, got[0])
        if best is not None and table in (DAILY_METRICS, REVENUE_MONTHLY):
            break
    return best


def add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def resolve_window(
    conn: psycopg.Connection, catalog: MartCatalog, start: date | None, end: date | None, *, today: date
) -> Window:
    """Missing bounds: end = the latest data date (or today); start = first day of the month 11 months before."""
    if end is None:
        end = latest_data_date(conn, catalog) or today
    if start is None:
        start = add_months(end.replace(day=1), -11)
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    return Window(start, end)


# --------------------------------------------------------------------------------------------- KPIs


def resolve_source(catalog: MartCatalog, spec: KpiSpec) -> Source | Unavailable:
    for table, candidates in spec.sources:
        col = catalog.first_present(table, candidates)
        date_col = catalog.date_column(table)
        if col and date_col:
            return Source(table, col, date_col)
    for table in sorted(catalog.tables):
        col = catalog.first_present(table, spec.discover)
        date_col = catalog.date_column(table)
        if col and date_col:
            return Source(table, col, date_col)
    group_tables = [t for t, _ in spec.sources]
    if not any(catalog.has_table(t) for t in group_tables):
        return Unavailable(f"{spec.group} marts not built ({catalog.qualified(group_tables[0])} missing)")
    table, candidates = next((t, c) for t, c in spec.sources if catalog.has_table(t))
    if catalog.date_column(table) is None:
        return Unavailable(f"{catalog.qualified(table)} has no date column")
    return Unavailable(f"{catalog.qualified(table)} has no column {candidates[0]}")


def _money_scale(catalog: MartCatalog, src: Source) -> tuple[sql.Composable, sql.Composable]:
    """SQL for (currency, minor-unit exponent) of a money column; NULLs when the mart does not say."""
    cur = catalog.first_present(src.table, CURRENCY_COLUMNS)
    exp = catalog.first_present(src.table, EXPONENT_COLUMNS)
    return (
        sql.SQL("{}::text").format(sql.Identifier(cur)) if cur else sql.SQL("null::text"),
        sql.SQL("{}::int").format(sql.Identifier(exp)) if exp else sql.SQL("null::int"),
    )


def _scale_value(src: Source, value: object, currency: str, exponent: int | None) -> float | None:
    v = to_float(value)
    if v is None:
        return None
    if src.column.endswith(MINOR_UNIT_SUFFIXES):
        v = v / 10 ** (exponent if exponent is not None else currency_exponent(currency))
    return v


def _no_rows_reason(conn: psycopg.Connection, catalog: MartCatalog, table: str, tenant: str | None) -> str:
    """Why a mart gave no row: empty altogether, or only not for this tenant / window."""
    exists = conn.execute(sql.SQL("select exists (select 1 from {})").format(_ident(table, catalog))).fetchone()
    if not (exists and exists[0]):
        return f"{catalog.qualified(table)} is empty"
    who = f"tenant {tenant}" if tenant else "all tenants"
    return f"no rows for {who} in {catalog.qualified(table)} in the window"


def fetch_kpi(
    conn: psycopg.Connection,
    catalog: MartCatalog,
    spec: KpiSpec,
    window: Window,
    tenant: str | None,
    currency: str,
) -> Kpi:
    kpi = Kpi(spec)
    src = resolve_source(catalog, spec)
    if isinstance(src, Unavailable):
        kpi.reason = src.reason
        return kpi
    kpi.source = f"{catalog.qualified(src.table)}.{src.column}"
    cond = tenant_condition(catalog, src.table, tenant)
    if isinstance(cond, Unavailable):
        kpi.reason = cond.reason
        return kpi
    if spec.require_true and spec.require_true in catalog.columns(src.table):
        cond = sql.SQL("{} and {}").format(cond, sql.Identifier(spec.require_true))
    cur_sql, exp_sql = _money_scale(catalog, src)
    date_expr = sql.SQL("{}::date").format(sql.Identifier(src.date_column))
    base = sql.SQL("select {d}, {v}, {cur}, {exp} from {t} where {cond}").format(
        d=date_expr, v=sql.Identifier(src.column), cur=cur_sql, exp=exp_sql, t=_ident(src.table, catalog), cond=cond
    )
    lower = window.start.replace(day=1) if src.monthly else window.start

    def run() -> Kpi:
        row = conn.execute(
            base
            + sql.SQL(" and {d} between {lo} and {hi} order by {d} desc limit 1").format(
                d=date_expr, lo=sql.Literal(lower), hi=sql.Literal(window.end)
            )
        ).fetchone()
        if row is None:
            kpi.reason = _no_rows_reason(conn, catalog, src.table, tenant)
            return kpi
        period, raw, row_cur, row_exp = row
        kpi.period = period
        kpi.period_label = fmt_month(period) if src.monthly else fmt_day(period)
        cur = row_cur or currency
        value = _scale_value(src, raw, cur, row_exp)
        if value is None:
            kpi.reason = f"not defined for {kpi.period_label} (NULL in {kpi.source})"
            return kpi
        kpi.value = value
        kpi.display = fmt_value(spec.kind, value, cur)
        prev_day = add_months(period, -1)
        prev = conn.execute(
            base + sql.SQL(" and {d} = {p} limit 1").format(d=date_expr, p=sql.Literal(prev_day))
        ).fetchone()
        prev_value = _scale_value(src, prev[1], prev[2] or currency, prev[3]) if prev else None
        if prev_value is None:
            label = fmt_month(prev_day) if src.monthly else fmt_day(prev_day)
            kpi.delta_note = f"no value for {label}"
        else:
            kpi.delta = fmt_delta(spec.kind, value, prev_value)
            if value != prev_value:
                kpi.delta_good = (value > prev_value) == spec.higher_is_better
        return kpi

    got = guarded(conn, run)
    if isinstance(got, Unavailable):
        kpi.reason = got.reason
        return kpi
    return got


def fetch_kpis(
    conn: psycopg.Connection, catalog: MartCatalog, window: Window, tenant: str | None, currency: str
) -> list[Kpi]:
    from dashboards.export.metrics import KPIS

    return [fetch_kpi(conn, catalog, spec, window, tenant, currency) for spec in KPIS]


# --------------------------------------------------------------------------------------------- series


def fetch_series(
    conn: psycopg.Connection,
    catalog: MartCatalog,
    key: str,
    window: Window,
    tenant: str | None,
    currency: str,
) -> Series | Unavailable:
    spec = KPI_BY_KEY[key]
    src = resolve_source(catalog, spec)
    if isinstance(src, Unavailable):
        return src
    cond = tenant_condition(catalog, src.table, tenant)
    if isinstance(cond, Unavailable):
        return cond
    cur_sql, exp_sql = _money_scale(catalog, src)
    date_expr = sql.SQL("{}::date").format(sql.Identifier(src.date_column))
    lower = window.start.replace(day=1) if src.monthly else window.start
    query = sql.SQL(
        "select {d}, {v}, {cur}, {exp} from {t} where {cond} and {d} between {lo} and {hi} order by {d}"
    ).format(
        d=date_expr,
        v=sql.Identifier(src.column),
        cur=cur_sql,
        exp=exp_sql,
        t=_ident(src.table, catalog),
        cond=cond,
        lo=sql.Literal(lower),
        hi=sql.Literal(window.end),
    )
    source = f"{catalog.qualified(src.table)}.{src.column}"

    def run() -> Series | Unavailable:
        points: list[tuple[date, float]] = []
        row_currency: str | None = None
        for d, raw, cur, exp in conn.execute(query):
            row_currency = cur or row_currency
            v = _scale_value(src, raw, cur or currency, exp)
            if v is not None:
                points.append((d, v))
        if not points:
            empty = _no_rows_reason(conn, catalog, src.table, tenant)
            return Unavailable(empty if empty.endswith("is empty") else f"no values in {source} for the window")
        return Series(points, source, row_currency or currency)

    return guarded(conn, run)


# --------------------------------------------------------------------------------------------- MRR movements

MOVEMENT_TYPE_COLUMNS = ("movement_type", "movement", "movement_category", "category", "change_type")
MOVEMENT_AMOUNT_COLUMNS = (
    "mrr_change", "mrr_delta", "delta_mrr", "movement_mrr", "amount", "mrr_amount", "mrr",
    "mrr_change_minor", "mrr_delta_minor", "amount_minor",
)  # fmt: skip


def classify_movement(label: str) -> str | None:
    s = label.lower()
    for key, needles in (
        ("reactivation", ("reactiv",)),
        ("expansion", ("expan", "upgrade")),
        ("contraction", ("contract", "downgrade")),
        ("churn", ("churn", "cancel")),
        ("fx", ("fx", "currency")),
        ("new", ("new",)),
    ):
        if any(n in s for n in needles):
            return key
    return None


def _movement_source(catalog: MartCatalog) -> str | Unavailable:
    """The monthly revenue mart when it carries the bucket columns (it has all-tenants rows), else fct_mrr_movements."""
    wide = [catalog.first_present(REVENUE_MONTHLY, cands) for key, _, _, cands in MOVEMENT_BUCKETS if key != "fx"]
    if all(wide) and catalog.date_column(REVENUE_MONTHLY):
        return REVENUE_MONTHLY
    if catalog.has_table(MRR_MOVEMENTS):
        return MRR_MOVEMENTS
    return Unavailable(f"revenue marts not built ({catalog.qualified(MRR_MOVEMENTS)} missing)")


def fetch_movements(
    conn: psycopg.Connection, catalog: MartCatalog, window: Window, tenant: str | None, currency: str
) -> Movements | Unavailable:
    table_or_reason = _movement_source(catalog)
    if isinstance(table_or_reason, Unavailable):
        return table_or_reason
    table = table_or_reason
    date_col = catalog.date_column(table)
    if date_col is None:
        return Unavailable(f"{catalog.qualified(table)} has no date column")
    qtable = _ident(table, catalog)
    type_col = catalog.first_present(table, MOVEMENT_TYPE_COLUMNS)
    amount_col = catalog.first_present(table, MOVEMENT_AMOUNT_COLUMNS)
    wide = {key: catalog.first_present(table, cands) for key, _, _, cands in MOVEMENT_BUCKETS}
    present = [(k, c) for k, c in wide.items() if c]
    long_format = bool(type_col and amount_col) and len(present) < 3
    if not long_format and not present:
        return Unavailable(f"{catalog.qualified(table)} has no movement type/amount or per-bucket MRR columns")
    month = sql.SQL("date_trunc('month', {})::date").format(sql.Identifier(date_col))
    cur_col = catalog.first_present(table, CURRENCY_COLUMNS)
    exp_col = catalog.first_present(table, EXPONENT_COLUMNS)
    cur_sql = sql.SQL("max({}::text)").format(sql.Identifier(cur_col)) if cur_col else sql.SQL("null::text")
    exp_sql = sql.SQL("max({}::int)").format(sql.Identifier(exp_col)) if exp_col else sql.SQL("null::int")
    minor_cols = {amount_col} if long_format else {c for _, c in present}

    def scale(col: str | None, v: object, cur: str | None, exp: int | None) -> float:
        x = to_float(v) or 0.0
        if col in minor_cols and col and col.endswith(MINOR_UNIT_SUFFIXES):
            x /= 10 ** (exp if exp is not None else currency_exponent(cur or currency))
        return x

    def run() -> Movements | Unavailable:
        cond: sql.Composable | Unavailable = tenant_condition(catalog, table, tenant)
        if tenant is None and catalog.has_tenant(table):
            # Per-customer marts may have no all-tenants rows: then the total is the sum over every tenant.
            has_all = conn.execute(
                sql.SQL("select exists (select 1 from {} where {} = {})").format(
                    qtable, sql.Identifier(TENANT_COLUMN), sql.Literal(ALL_TENANTS)
                )
            ).fetchone()
            if not (has_all and has_all[0]):
                cond = sql.SQL("true")
        if isinstance(cond, Unavailable):
            return cond
        where = sql.SQL("{cond} and {m} between {lo} and {hi}").format(
            cond=cond, m=month, lo=sql.Literal(window.start.replace(day=1)), hi=sql.Literal(window.end)
        )
        if long_format:
            query = sql.SQL(
                "select {m}, {ty}::text, sum({amt}), {cur}, {exp} from {t} where {w} group by 1, 2 order by 1"
            ).format(
                m=month, ty=sql.Identifier(type_col or ""), amt=sql.Identifier(amount_col or ""), cur=cur_sql,
                exp=exp_sql, t=qtable, w=where,
            )  # fmt: skip
        else:
            sums = sql.SQL(", ").join(sql.SQL("sum({})").format(sql.Identifier(c or "")) for _, c in present)
            query = sql.SQL("select {m}, {sums}, {cur}, {exp} from {t} where {w} group by 1 order by 1").format(
                m=month, sums=sums, cur=cur_sql, exp=exp_sql, t=qtable, w=where
            )
        totals: dict[date, dict[str, float]] = {}
        seen_currency: str | None = None
        for row in conn.execute(query):
            bucket_totals = totals.setdefault(row[0], {})
            cur, exp = row[-2], row[-1]
            seen_currency = cur or seen_currency
            if long_format:
                key = classify_movement(str(row[1]))
                if key is not None:
                    bucket_totals[key] = bucket_totals.get(key, 0.0) + scale(amount_col, row[2], cur, exp)
            else:
                for (key, col), v in zip(present, row[1:-2], strict=True):
                    bucket_totals[key] = bucket_totals.get(key, 0.0) + scale(col, v, cur, exp)
        if not totals:
            empty = _no_rows_reason(conn, catalog, table, tenant)
            return Unavailable(
                empty if empty.endswith("is empty") else f"no rows in {catalog.qualified(table)} for the window"
            )
        months = sorted(totals)
        buckets: list[tuple[str, str, list[float]]] = []
        for key, label, sign, _ in MOVEMENT_BUCKETS:
            if key == "fx" and not any(totals[m].get(key) for m in months):
                continue
            values = [abs(totals[m].get(key, 0.0)) * sign if sign else totals[m].get(key, 0.0) for m in months]
            buckets.append((key, label, values))
        return Movements(months, buckets, seen_currency or currency, catalog.qualified(table))

    return guarded(conn, run)


# --------------------------------------------------------------------------------------------- cohorts

COHORT_COLUMNS = ("cohort_month", "cohort_date", "cohort_week", "cohort", "cohort_start")
PERIOD_COLUMNS = (
    "months_since_start", "months_since_cohort", "months_since_signup", "months_since_first_payment",
    "month_number", "period_number", "period_index", "period", "age_months", "months_since",
    "weeks_since_signup", "weeks_since_cohort", "week_number",
)  # fmt: skip
RATE_COLUMNS = ("retention_rate", "retention_pct", "retained_pct", "pct_retained", "retention", "logo_retention_rate")
RETAINED_COLUMNS = ("retained_users", "retained_customers", "retained_tenants", "retained", "active_users")
SIZE_COLUMNS = ("cohort_size", "cohort_users", "cohort_customers", "cohort_tenants", "initial_users")
BASIS_COLUMNS = ("cohort_type", "retention_type", "basis", "retention_basis")
# Customers (tenants) first: the board reads logo retention; user retention is the product view.
PREFERRED_BASIS = ("tenants", "tenant", "customers", "customer", "logo", "accounts", "users", "user")
PERIOD_TYPE_COLUMNS = ("period_type", "period_unit", "period_grain")
PREFERRED_PERIOD_TYPES = ("month", "months", "monthly", "week", "weeks", "weekly")


def fetch_cohorts(
    conn: psycopg.Connection,
    catalog: MartCatalog,
    window: Window,
    tenant: str | None,
    *,
    max_cohorts: int = 12,
    max_periods: int = 12,
) -> Cohorts | Unavailable:
    table = COHORT_RETENTION
    if not catalog.has_table(table):
        return Unavailable(f"cohort marts not built ({catalog.qualified(table)} missing)")
    cohort_col = catalog.first_present(table, COHORT_COLUMNS) or catalog.date_column(table)
    period_col = catalog.first_present(table, PERIOD_COLUMNS)
    rate_col = catalog.first_present(table, RATE_COLUMNS)
    retained_col = catalog.first_present(table, RETAINED_COLUMNS)
    size_col = catalog.first_present(table, SIZE_COLUMNS)
    if cohort_col is None or period_col is None:
        return Unavailable(f"{catalog.qualified(table)} has no cohort/period columns")
    if rate_col is None and not (retained_col and size_col):
        return Unavailable(f"{catalog.qualified(table)} has no retention rate column")
    cond = tenant_condition(catalog, table, tenant)
    if isinstance(cond, Unavailable):
        return cond
    basis_col = catalog.first_present(table, BASIS_COLUMNS)
    period_type_col = catalog.first_present(table, PERIOD_TYPE_COLUMNS)
    qtable = _ident(table, catalog)

    def pick(where: sql.Composable, col: str, preferred: tuple[str, ...]) -> tuple[str | None, sql.Composable]:
        """Keep one value of a discriminator column (e.g. cohort_type): the first preferred one present."""
        kinds = [
            r[0]
            for r in conn.execute(
                sql.SQL("select distinct {b}::text from {t} where {c} order by 1").format(
                    b=sql.Identifier(col), t=qtable, c=where
                )
            )
            if r[0] is not None
        ]
        chosen = next((v for p in preferred for v in kinds if v.lower() == p), kinds[0] if kinds else None)
        if chosen is None:
            return None, where
        return chosen, sql.SQL("{} and {}::text = {}").format(where, sql.Identifier(col), sql.Literal(chosen))

    def run() -> Cohorts | Unavailable:
        where: sql.Composable = cond
        basis: str | None = None
        period_type: str | None = None
        if basis_col:
            basis, where = pick(where, basis_col, PREFERRED_BASIS)
        if period_type_col:
            period_type, where = pick(where, period_type_col, PREFERRED_PERIOD_TYPES)
        rate = (
            sql.SQL("{}::float8").format(sql.Identifier(rate_col))
            if rate_col
            else sql.SQL("{}::float8 / nullif({}, 0)").format(
                sql.Identifier(retained_col or ""), sql.Identifier(size_col or "")
            )
        )
        size = sql.SQL("{}::float8").format(sql.Identifier(size_col)) if size_col else sql.SQL("null::float8")
        coh = sql.SQL("{}::date").format(sql.Identifier(cohort_col))
        rows = conn.execute(
            sql.SQL(
                "select {coh}, {p}::int, {rate}, {size} from {t} where {w} and {coh} between {lo} and {hi}"
                " and {p} between 0 and {maxp} order by 1, 2"
            ).format(
                coh=coh,
                p=sql.Identifier(period_col),
                rate=rate,
                size=size,
                t=qtable,
                w=where,
                lo=sql.Literal(window.start.replace(day=1)),
                hi=sql.Literal(window.end),
                maxp=sql.Literal(max_periods - 1),
            )  # fmt: skip
        ).fetchall()
        if not rows:
            return Unavailable(f"no cohorts in {catalog.qualified(table)} for the window")
        cohorts = sorted({r[0] for r in rows})[-max_cohorts:]
        index = {c: i for i, c in enumerate(cohorts)}
        raw = [r for r in rows if r[0] in index and r[2] is not None]
        # Percent-stored rates (e.g. 87.5) become fractions; revenue retention above 100% stays as is.
        percent = bool(raw) and max(r[2] for r in raw) > 5
        values = {(index[r[0]], r[1]): (r[2] / 100 if percent else r[2]) for r in raw}
        sizes = {index[r[0]]: r[3] for r in rows if r[0] in index and r[1] == 0 and r[3] is not None}
        periods = list(range(0, max((r[1] for r in rows), default=0) + 1))
        unit = "week" if "week" in (period_type or period_col) else "month"
        return Cohorts(cohorts, periods, values, sizes, basis, catalog.qualified(table), unit)

    return guarded(conn, run)


# --------------------------------------------------------------------------------------------- alerts

ALERT_COLUMN_PREFERENCE = (
    ("metric_date", "alert_date", "date", "day", "month"),
    ("tenant_id",),
    ("metric", "metric_name", "kpi"),
    ("severity", "level"),
    ("direction",),
    ("metric_value", "value", "observed", "actual", "observed_value"),
    ("expected", "expected_value", "baseline", "baseline_value"),
    ("pct_change", "deviation", "z_score", "change_pct"),
    ("message", "description", "reason", "alert_message", "rule"),
)


def fetch_alerts(
    conn: psycopg.Connection, catalog: MartCatalog, window: Window, tenant: str | None, *, limit: int = 12
) -> Alerts | Unavailable:
    table = METRIC_ALERTS
    if not catalog.has_table(table):
        return Unavailable(f"alert marts not built ({catalog.qualified(table)} missing)")
    cols = catalog.columns(table)
    chosen = [c for cands in ALERT_COLUMN_PREFERENCE if (c := catalog.first_present(table, cands))]
    if tenant is not None and TENANT_COLUMN in chosen:
        chosen.remove(TENANT_COLUMN)
    if len(chosen) < 3:
        chosen = list(cols)[:8]
    date_col = catalog.date_column(table)
    conds: list[sql.Composable] = [sql.SQL("true")]
    if tenant is not None:
        cond = tenant_condition(catalog, table, tenant)
        if isinstance(cond, Unavailable):
            return cond
        conds.append(cond)
    if date_col:
        lower = window.start.replace(day=1) if is_month_column(date_col) else window.start
        conds.append(
            sql.SQL("{}::date between {} and {}").format(
                sql.Identifier(date_col), sql.Literal(lower), sql.Literal(window.end)
            )
        )
    where = sql.SQL(" and ").join(conds)
    order: sql.Composable = sql.SQL("")
    if date_col:
        order = sql.SQL(" order by {} desc").format(sql.Identifier(date_col))
        if (sev := catalog.first_present(table, ("severity", "level"))) is not None:
            order = order + sql.SQL(
                ", case lower({s}::text) when 'critical' then 0 when 'high' then 1 when 'warning' then 2"
                " when 'medium' then 3 else 4 end"
            ).format(s=sql.Identifier(sev))
    qtable = _ident(table, catalog)

    def run() -> Alerts:
        total_row = conn.execute(sql.SQL("select count(*) from {} where {}").format(qtable, where)).fetchone()
        rows = conn.execute(
            sql.SQL("select {cols} from {t} where {w}{o} limit {n}").format(
                cols=sql.SQL(", ").join(sql.Identifier(c) for c in chosen),
                t=qtable,
                w=where,
                o=order,
                n=sql.Literal(limit),
            )
        ).fetchall()
        return Alerts(chosen, [tuple(r) for r in rows], int(total_row[0]) if total_row else 0, catalog.qualified(table))

    return guarded(conn, run)


# --------------------------------------------------------------------------------------------- cover facts


def fetch_policy(conn: psycopg.Connection, catalog: MartCatalog, window: Window) -> str | None:
    """The revenue policy written on the revenue mart rows (e.g. `stripe`), when the mart records one."""
    col = catalog.first_present(REVENUE_MONTHLY, ("revenue_policy", "policy_preset", "policy", "policy_name"))
    if col is None:
        return None
    got = guarded(
        conn,
        lambda: conn.execute(
            sql.SQL("select string_agg(distinct {c}::text, ', ') from {t}").format(
                c=sql.Identifier(col), t=_ident(REVENUE_MONTHLY, catalog)
            )
        ).fetchone(),
    )
    if isinstance(got, Unavailable) or not got:
        return None
    return got[0]


def fetch_mart_currency(conn: psycopg.Connection, catalog: MartCatalog) -> str | None:
    """The currency the revenue marts are stated in, when they say (one value); None otherwise."""
    col = catalog.first_present(REVENUE_MONTHLY, CURRENCY_COLUMNS)
    if col is None:
        return None
    got = guarded(
        conn,
        lambda: conn.execute(
            sql.SQL("select distinct {c}::text from {t} where {c} is not null limit 2").format(
                c=sql.Identifier(col), t=_ident(REVENUE_MONTHLY, catalog)
            )
        ).fetchall(),
    )
    if isinstance(got, Unavailable) or len(got) != 1:
        return None
    return str(got[0][0]).upper()
