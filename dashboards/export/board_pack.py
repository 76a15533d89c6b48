"""The board pack: one self-contained HTML file (inline CSS and SVG, no scripts) that prints to A4 landscape.

It shows the dashboards' own cards (dashboards/specs), run exactly as Metabase runs them (dashboards.card_sql) with
the pack's filters: the tenant, month granularity and the window's end. So every number is a reporting-layer number
a dashboard shows too, under the card's name and with the card's description as its definition. Tiles show the
value with both comparisons (previous period, same period last year); charts are Vega-Altair renderings
(dashboards/export/charts.py). A card that cannot run (the reporting layer not built, no rows) reads
"n/a — <reason>".

Pages: cover, revenue KPIs, customer / product / operations KPIs, MRR (trend and bridge), engagement, retention
and operations, cohort retention, movements and alerts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import jinja2
import psycopg
from markupsafe import Markup

from dashboards.card_sql import fill
from dashboards.export import charts
from dashboards.export.formatting import (
    NA,
    currency_symbol,
    fmt_cell,
    fmt_day,
    fmt_delta,
    fmt_money,
    fmt_money_compact,
    fmt_month,
    fmt_pct,
    fmt_value,
    to_float,
)
from dashboards.spec import CardSpec, DashboardSpec, load_specs

T = TypeVar("T")

# (dashboard spec key, card name) of every tile, page by page; the cover repeats the headlines
REVENUE_TILES = [
    ("executive_overview", name)
    for name in (
        "MRR",
        "ARR",
        "Paying customers",
        "NRR (month to date)",
        "GRR (month to date)",
        "ARPA",
        "New paying customers",
        "Paying customers lost",
        "Customer churn rate",
        "Revenue churn (gross)",
        "LTV",
        "CAC",
    )
]
OPERATING_TILES = [
    ("executive_overview", "Quick ratio"),
    ("executive_overview", "Runway (months)"),
    ("executive_overview", "Tenant accounts opened"),
    ("executive_overview", "Tenant accounts closed"),
    ("product_engagement", "DAU"),
    ("product_engagement", "MAU"),
    ("product_engagement", "DAU/MAU (stickiness)"),
    ("executive_overview", "Week-1 retention"),
    ("executive_overview", "Week-4 retention"),
    ("executive_overview", "Week-12 retention"),
    ("operations", "Jobs success rate"),
    ("operations", "API 5xx rate"),
]
HEADLINES = ("MRR", "ARR", "Paying customers", "NRR (month to date)", "Customer churn rate")
PAGES = ("cover", "revenue", "operating", "mrr", "engagement", "cohorts", "movements")
PAGE_COUNT = len(PAGES)  # each page is one A4 landscape sheet

MONEY = {"mrr", "arr", "arpa", "ltv", "cac", "overdue_amount", "refunded_amount"}
LOWER_IS_BETTER = {
    "paying_customers_lost",
    "customer_churn_rate",
    "gross_revenue_churn_rate",
    "tenant_accounts_closed",
    "cac",
    "api_5xx_rate",
}
LABELS = {
    "mrr": "MRR",
    "mrr_last_year": "Same month last year",
    "dau": "DAU (average)",
    "wau": "WAU",
    "mau": "MAU",
    "week_1_retention": "Week 1",
    "week_4_retention": "Week 4",
    "week_12_retention": "Week 12",
    "jobs_succeeded": "Succeeded",
    "jobs_failed": "Failed",
    "jobs_cancelled": "Cancelled",
    "api_p50_latency_ms": "p50",
    "api_p95_latency_ms": "p95",
    "api_p99_latency_ms": "p99",
}
HEADERS = {
    "month": "Month",
    "customer_name": "Customer",
    "tenant_name": "Tenant",
    "movement_type": "Movement",
    "churn_type": "Churn",
    "starting_mrr": "Starting MRR",
    "ending_mrr": "Ending MRR",
    "mrr_change": "MRR change",
    "metric_date": "Date",
    "metric_value": "Value",
    "expected_value": "Expected",
}
BRIDGE = {
    "new_mrr": "New",
    "expansion_mrr": "Expansion",
    "reactivation_mrr": "Reactivation",
    "contraction_mrr": "Contraction",
    "churned_mrr": "Churn",
    "fx_mrr": "Currency",
}


@dataclass(frozen=True)
class Window:
    start: date
    end: date


@dataclass(frozen=True)
class Unavailable:
    reason: str

    def __str__(self) -> str:
        return f"{NA} — {self.reason}"


@dataclass
class Result:
    columns: list[str]
    rows: list[tuple[Any, ...]]


@dataclass
class Tile:
    label: str
    definition: str
    field: str
    kind: str
    dashboard: str
    value: float | None = None
    display: str = NA
    period_label: str = ""
    reason: str | None = None
    vs_previous: str | None = None
    previous_good: bool | None = None
    vs_last_year: str | None = None
    last_year_good: bool | None = None

    @property
    def available(self) -> bool:
        return self.value is not None


@dataclass
class Panel:
    title: str
    subtitle: str = ""
    svg: Markup | None = None
    table: dict[str, Any] | None = None
    reason: str | None = None
    source: str = ""


@dataclass
class BoardPack:
    window: Window
    tenant: str
    currency: str
    timezone: str
    generated_at: datetime
    latest_data: date | None
    policy: str | None
    revenue: list[Tile]
    operating: list[Tile]
    cover_trend: Panel
    mrr_trend: Panel
    bridge: Panel
    engagement: Panel
    retention: Panel
    jobs: Panel
    latency: Panel
    cohorts: Panel
    movements: Panel
    alerts: Panel
    notes: list[str] = field(default_factory=list)

    @property
    def scope(self) -> str:
        return self.tenant

    @property
    def window_label(self) -> str:
        return f"{fmt_day(self.window.start)} – {fmt_day(self.window.end)}"

    @property
    def tiles(self) -> list[Tile]:
        return [*self.revenue, *self.operating]

    @property
    def headlines(self) -> list[Tile]:
        return [t for name in HEADLINES for t in self.tiles if t.label == name]

    @property
    def panels(self) -> list[Panel]:
        return [
            self.mrr_trend,
            self.bridge,
            self.engagement,
            self.retention,
            self.jobs,
            self.latency,
            self.cohorts,
            self.movements,
            self.alerts,
        ]

    def unavailable(self) -> list[tuple[str, str]]:
        """(what, reason) for every tile and panel shown as n/a."""
        out = [(t.label, t.reason or "") for t in self.tiles if not t.available]
        out += [(p.title, p.reason or "") for p in self.panels if p.reason]
        return [(w, r) for w, r in out if r]


# --------------------------------------------------------------------------------------------- running cards


def guarded(conn: psycopg.Connection, fn: Callable[[], T]) -> T | Unavailable:
    """Run one card in a savepoint, so a failure is reported on its tile or panel, not fatal and not sticky."""
    try:
        with conn.transaction():
            return fn()
    except psycopg.Error as exc:
        message = exc.diag.message_primary if exc.diag and exc.diag.message_primary else str(exc)
        if isinstance(exc, psycopg.errors.UndefinedTable):
            return Unavailable(f"reporting layer not built ({message})")
        return Unavailable(f"query failed: {message}")


class Cards:
    """The dashboards' cards, run with the pack's filter values."""

    def __init__(self, conn: psycopg.Connection, specs: list[DashboardSpec], values: dict[str, Any]):
        self.conn = conn
        self.specs = {s.key: s for s in specs}
        self.values = values

    def card(self, key: str, name: str) -> tuple[DashboardSpec, CardSpec]:
        spec = self.specs[key]
        return spec, next(c for c in spec.cards if c.name == name)

    def run(self, key: str, name: str, **overrides: Any) -> Result | Unavailable:
        spec, card = self.card(key, name)
        values = {k: v for k, v in {**self.values, **overrides}.items() if k in card.tags}
        sql = fill(card, spec, values)

        def query() -> Result | Unavailable:
            cur = self.conn.execute(sql)
            rows = cur.fetchall()
            if not rows:
                return Unavailable(f"no data for {self.values.get('tenant')} in the window")
            return Result([d.name for d in cur.description or []], [tuple(r) for r in rows])

        got = guarded(self.conn, query)
        return got if isinstance(got, Unavailable | Result) else Unavailable("no result")


# --------------------------------------------------------------------------------------------- tiles


def tile_kind(card: CardSpec, column: str) -> str:
    settings = (card.visualization.get("column_settings") or {}).get(f'["name","{column}"]') or {}
    if settings.get("number_style") == "percent":
        return "pct"
    if column in MONEY or column.endswith("_mrr"):
        return "money"
    if column == "runway_months":
        return "months"
    if column == "quick_ratio":
        return "ratio"
    return "count"


def _period_label(value: Any) -> str:
    if isinstance(value, date):
        return fmt_month(value) if value.day == 1 else fmt_day(value)
    return ""


def build_tile(cards: Cards, key: str, name: str, currency: str) -> Tile:
    spec, card = cards.card(key, name)
    field_name = card.visualization.get("scalar.field") or ""
    tile = Tile(name, (card.description or "").strip(), field_name, tile_kind(card, field_name), spec.name)
    comparisons = card.visualization.get("scalar.comparisons") or []
    compared = comparisons[0]["column"] if comparisons else None
    got = cards.run(key, name, compare_to="previous period")
    if isinstance(got, Unavailable):
        tile.reason = got.reason
        return tile
    last = dict(zip(got.columns, got.rows[-1], strict=True))
    tile.period_label = _period_label(got.rows[-1][0]) if len(got.columns) > 1 else ""
    tile.value = to_float(last.get(field_name))
    if tile.value is None:
        tile.reason = f"not defined for {tile.period_label or 'the window'}"
        return tile
    tile.display = fmt_value(tile.kind, tile.value, currency)
    if compared is None:
        return tile
    better = field_name not in LOWER_IS_BETTER
    previous = to_float(last.get(compared))
    if previous is not None:
        tile.vs_previous = fmt_delta(tile.kind, tile.value, previous)
        tile.previous_good = None if tile.value == previous else (tile.value > previous) == better
    year = cards.run(key, name, compare_to="same period last year")
    if isinstance(year, Result):
        last_year = to_float(dict(zip(year.columns, year.rows[-1], strict=True)).get(compared))
        if last_year is not None:
            tile.vs_last_year = fmt_delta(tile.kind, tile.value, last_year)
            tile.last_year_good = None if tile.value == last_year else (tile.value > last_year) == better
    return tile


# --------------------------------------------------------------------------------------------- panels


def _series(result: Result, columns: list[str]) -> dict[str, list[float | None]]:
    index = {c: i for i, c in enumerate(result.columns)}
    return {LABELS.get(c, c.replace("_", " ")): [to_float(r[index[c]]) for r in result.rows] for c in columns}


def line_panel(
    cards: Cards, key: str, name: str, title: str, kind: str, currency: str, height: int = 250, width: int = 440
) -> Panel:
    spec, card = cards.card(key, name)
    panel = Panel(title, (card.description or "").strip(), source=f"{spec.name} / {card.name}")
    got = cards.run(key, name)
    if isinstance(got, Unavailable):
        panel.reason = got.reason
        return panel
    metrics = list(card.visualization.get("graph.metrics") or got.columns[1:])
    periods = [r[0] for r in got.rows]
    series = _series(got, metrics)
    dashed = [LABELS[c] for c in metrics if c.endswith("_last_year") and c in LABELS]
    panel.svg = charts.line_chart(
        periods, series, kind=kind, currency_symbol=currency_symbol(currency), dashed=dashed, width=width, height=height
    )
    return panel


def bridge_panel(cards: Cards, currency: str) -> Panel:
    spec, card = cards.card("executive_overview", "MRR bridge")
    panel = Panel("MRR bridge", "Gains above zero, losses below; ◆ net new MRR", source=f"{spec.name} / {card.name}")
    got = cards.run("executive_overview", "MRR bridge")
    if isinstance(got, Unavailable):
        panel.reason = got.reason
        return panel
    months = [r[0] for r in got.rows]
    index = {c: i for i, c in enumerate(got.columns)}
    buckets = {label: [to_float(r[index[col]]) or 0.0 for r in got.rows] for col, label in BRIDGE.items()}
    buckets = {label: values for label, values in buckets.items() if any(values)}
    panel.svg = charts.bridge_chart(months, buckets, currency_symbol=currency_symbol(currency), width=440, height=250)
    shown = months[-12:]
    offset = len(months) - len(shown)
    rows = [[label, *(fmt_money_compact(v, currency) for v in values[offset:])] for label, values in buckets.items()]
    nets = [sum(values[offset + i] for values in buckets.values()) for i in range(len(shown))]
    rows.append(["Net new MRR", *(fmt_money_compact(v, currency) for v in nets)])
    panel.table = {"header": ["", *(m.strftime("%b %y") for m in shown)], "rows": rows, "numeric": True}
    return panel


def cohort_panel(cards: Cards) -> Panel:
    key, name = "product_engagement", "Cohort retention (monthly, users)"
    spec, card = cards.card(key, name)
    panel = Panel(
        "Cohort retention",
        "Share of each monthly signup cohort of users active n months after signup (blank: not observable yet)",
        source=f"{spec.name} / {card.name}",
    )
    got = cards.run(key, name)
    if isinstance(got, Unavailable):
        panel.reason = got.reason
        return panel
    index = {c: i for i, c in enumerate(got.columns)}
    cohorts = sorted({r[index["cohort_month"]] for r in got.rows})[-12:]
    periods = sorted({r[index["period_number"]] for r in got.rows if r[index["period_number"]] <= 11})
    sizes = {r[0]: r[index["cohort_size"]] for r in got.rows}
    labels = [f"{c.strftime('%b %Y')} · {sizes[c]} users" for c in cohorts]
    values = {
        (cohorts.index(r[0]), periods.index(r[index["period_number"]])): float(r[index["retention_rate"]])
        for r in got.rows
        if r[0] in cohorts and r[index["period_number"]] in periods and r[index["retention_rate"]] is not None
    }
    if not values:
        panel.reason = "no cohort is observable yet"
        return panel
    panel.svg = charts.heatmap(labels, [f"M{p}" for p in periods], values)
    return panel


def _cell(column: str, value: Any, row: dict[str, Any], currency: str) -> str:
    """A table cell in its unit: money, a rate as a percentage, a month as its name."""
    number = to_float(value) if not isinstance(value, str | date) else None
    if column in MONEY or column.endswith("_mrr") or column == "mrr_change":
        return fmt_money(number, currency) if number is not None else "—"
    if column in ("metric_value", "expected_value") and number is not None:
        metric = str(row.get("metric") or "")
        return fmt_pct(number) if metric.endswith(("_rate", "_ratio")) else fmt_cell(value, currency)
    if column == "month" and isinstance(value, date):
        return fmt_month(value)
    return fmt_cell(value, currency)


def table_panel(cards: Cards, key: str, name: str, title: str, currency: str, limit: int = 8) -> Panel:
    spec, card = cards.card(key, name)
    panel = Panel(title, (card.description or "").strip(), source=f"{spec.name} / {card.name}")
    got = cards.run(key, name)
    if isinstance(got, Unavailable):
        panel.reason = got.reason
        return panel
    header = [HEADERS.get(c, c.replace("_", " ").capitalize()) for c in got.columns]
    rows = []
    for row in got.rows[:limit]:
        named = dict(zip(got.columns, row, strict=True))
        rows.append([_cell(column, value, named, currency) for column, value in named.items()])
    panel.subtitle = f"{len(rows)} of {len(got.rows)} rows, latest first"
    panel.table = {"header": header, "rows": rows, "numeric": False}
    return panel


# --------------------------------------------------------------------------------------------- the pack


def _fact(conn: psycopg.Connection, sql: str) -> Any:
    got = guarded(conn, lambda: conn.execute(sql).fetchone())
    return None if isinstance(got, Unavailable) or not got else got[0]


def latest_day(conn: psycopg.Connection) -> date | None:
    """The latest loaded day of the reporting layer (None when it is not built)."""
    value = _fact(conn, "select max(as_of_date) from reporting.rpt_kpi_periods where grain = 'day'")
    return value if isinstance(value, date) else None


def build_board_pack(
    conn: psycopg.Connection,
    window: Window,
    *,
    tenant: str | None,
    currency: str,
    timezone: str,
    now: datetime | None = None,
    specs: list[DashboardSpec] | None = None,
) -> BoardPack:
    generated_at = (now or datetime.now(ZoneInfo("UTC"))).astimezone(ZoneInfo(timezone))
    currency = str(_fact(conn, "select max(reporting_currency) from reporting.rpt_tenants") or currency)
    scope = tenant or "All tenants"
    values = {
        "tenant": scope,
        "granularity": "month",
        "start_date": window.start,
        "end_date": window.end,
    }
    cards = Cards(conn, specs or load_specs(), values)
    return BoardPack(
        window=window,
        tenant=scope,
        currency=currency,
        timezone=timezone,
        generated_at=generated_at,
        latest_data=latest_day(conn),
        policy=_fact(conn, "select string_agg(distinct policy, ', ') from reporting.rpt_revenue_monthly"),
        revenue=[build_tile(cards, key, name, currency) for key, name in REVENUE_TILES],
        operating=[build_tile(cards, key, name, currency) for key, name in OPERATING_TILES],
        cover_trend=line_panel(cards, "executive_overview", "MRR trend", "MRR", "money", currency, 150, 960),
        mrr_trend=line_panel(cards, "executive_overview", "MRR trend", "MRR", "money", currency),
        bridge=bridge_panel(cards, currency),
        engagement=line_panel(cards, "product_engagement", "Active users", "Active users", "count", currency, 150),
        retention=line_panel(
            cards,
            "product_engagement",
            "Retention in weeks 1, 4 and 12",
            "Retention by signup cohort",
            "pct",
            currency,
            150,
        ),
        jobs=line_panel(cards, "operations", "Jobs per period", "Jobs", "count", currency, 150),
        latency=line_panel(cards, "operations", "API latency", "API latency (ms)", "ms", currency, 150),
        cohorts=cohort_panel(cards),
        movements=table_panel(cards, "executive_overview", "Largest MRR movements", "Largest MRR movements", currency),
        alerts=table_panel(cards, "executive_overview", "Alerts", "Recent alerts", currency, limit=6),
    )


def render_html(pack: BoardPack) -> str:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env.from_string(TEMPLATE).render(pack=pack, page_count=PAGE_COUNT)


TEMPLATE = r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Board pack · {{ pack.scope }} · {{ pack.window_label }}</title>
<style>
@page { size: A4 landscape; margin: 10mm; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0; background: #e9edf2; color: #1f2937;
       font-family: 'Liberation Sans', Arial, 'DejaVu Sans', sans-serif; font-size: 13px; line-height: 1.35; }
.page { background: #fff; width: 297mm; min-height: 210mm; margin: 18px auto; padding: 10mm 12mm 14mm;
        box-shadow: 0 1px 4px rgba(15, 23, 42, .12); position: relative; }
.page + .page { break-before: page; }
header.section { display: flex; align-items: baseline; justify-content: space-between;
                 border-bottom: 2px solid #1e3a8a; padding-bottom: 6px; margin-bottom: 12px; }
header.section h2 { margin: 0; font-size: 21px; color: #0f172a; letter-spacing: -.01em; }
header.section .meta { color: #6b7280; font-size: 11.5px; }
h3 { margin: 4px 0 2px; font-size: 15px; color: #0f172a; }
.sub { color: #6b7280; font-size: 11.5px; margin: 0 0 6px; }
.source { color: #9ca3af; font-size: 10px; margin-top: 2px; }
svg.chart { display: block; width: 100%; height: auto; }
.na-box { border: 1px dashed #cbd5e1; border-radius: 6px; padding: 18px; color: #6b7280; background: #f8fafc;
          font-size: 14px; margin: 6px 0 12px; }

/* cover */
.cover { display: flex; flex-direction: column; justify-content: space-between; }
.cover .band { background: linear-gradient(120deg, #1e3a8a, #0d9488); color: #fff; border-radius: 10px;
               padding: 26px 30px 24px; }
.cover .brand { font-weight: bold; letter-spacing: .14em; text-transform: uppercase; font-size: 11.5px; opacity: .85; }
.cover h1 { font-size: 40px; margin: 18px 0 4px; }
.cover .window { font-size: 19px; opacity: .92; margin: 0; }
.cover dl { display: grid; grid-template-columns: 180px 1fr 180px 1fr; gap: 6px 16px; font-size: 13px;
            margin: 22px 0 0; }
.cover dt { color: #6b7280; }
.cover dd { margin: 0; }
.headlines { display: grid; grid-template-columns: repeat(5, 1fr); gap: 12px; margin-top: 24px; }
.headline { border: 1px solid #e5e7eb; border-top: 4px solid #1e3a8a; border-radius: 8px; padding: 12px 14px; }
.headline .h-label { font-size: 11px; color: #4b5563; text-transform: uppercase; letter-spacing: .05em; }
.headline .h-period { font-size: 11px; color: #9ca3af; }
.headline .h-value { font-size: 27px; font-weight: bold; color: #0f172a; margin: 4px 0 2px; white-space: nowrap; }
.headline .h-value.na { color: #9ca3af; font-size: 18px; white-space: normal; }
.headline .h-delta { font-size: 11.5px; color: #6b7280; min-height: 15px; }
.cover .cover-chart { margin-top: 18px; }
.cover .contents { margin-top: 14px; color: #374151; font-size: 12.5px; }
.cover .gaps { margin-top: 12px; font-size: 11px; color: #6b7280; }
.cover .gaps ul { columns: 2; column-gap: 28px; margin: 4px 0 0; padding-left: 18px; }

/* KPI tiles */
.tiles { display: grid; grid-template-columns: repeat(4, 1fr); gap: 10px; }
.tile { border: 1px solid #e5e7eb; border-radius: 8px; padding: 10px 13px 9px; min-height: 176px;
        display: flex; flex-direction: column; border-top: 4px solid #1e3a8a; }
.tiles.operating .tile { border-top-color: #0d9488; }
.tile .label { font-size: 11px; text-transform: uppercase; letter-spacing: .06em; color: #4b5563; font-weight: bold;
               display: flex; justify-content: space-between; gap: 6px; }
.tile .label .period { font-weight: normal; text-transform: none; letter-spacing: 0; color: #9ca3af; }
.tile .value { font-size: 30px; font-weight: bold; color: #0f172a; margin: 6px 0 4px; white-space: nowrap; }
.tile .value.na { color: #9ca3af; font-size: 20px; white-space: normal; }
.tile .value .reason { display: block; font-size: 11px; font-weight: normal; color: #6b7280; margin-top: 2px; }
.tile .delta { font-size: 12px; color: #6b7280; min-height: 16px; }
.tile .delta.good b { color: #047857; }
.tile .delta.bad b { color: #b91c1c; }
.tile .delta .vs { color: #9ca3af; }
.tile .def { font-size: 10.5px; color: #6b7280; margin-top: auto; padding-top: 6px; border-top: 1px solid #f1f5f9; }

/* tables */
table.data { border-collapse: collapse; width: 100%; font-size: 11.5px; margin-top: 4px; }
table.data th { text-align: left; color: #4b5563; font-weight: bold; border-bottom: 1.5px solid #cbd5e1;
                padding: 4px 6px; white-space: nowrap; }
table.data td { border-bottom: 1px solid #eef0f3; padding: 4px 6px; vertical-align: top; }
table.data td:first-child { white-space: nowrap; }
table.data.numeric td:not(:first-child), table.data.numeric th:not(:first-child) { text-align: right; }
table.data tr.total td { font-weight: bold; border-top: 1.5px solid #cbd5e1; }
.grid2 { display: grid; grid-template-columns: 1fr; gap: 6px; }
.cols2 { display: grid; grid-template-columns: 1fr 1fr; gap: 22px; }
.cols2 > div { min-width: 0; }
table.data.numeric { font-size: 10.5px; }
footer { position: absolute; left: 12mm; right: 12mm; bottom: 5mm; font-size: 10px; color: #9ca3af;
         display: flex; justify-content: space-between; }

@media print {
  body { background: #fff; }
  .page { width: auto; min-height: 0; height: 189mm; margin: 0; padding: 0 0 6mm; box-shadow: none; }
  footer { left: 0; right: 0; bottom: 0; }
}
</style>
</head>
<body>
{% macro section_header(title) %}
<header class="section"><h2>{{ title }}</h2>
<span class="meta">{{ pack.scope }} · {{ pack.window_label }}</span></header>
{% endmacro %}
{% macro footer(n) %}
<footer><span>execmetrics board pack · generated {{ pack.generated_at.strftime('%Y-%m-%d %H:%M %Z') }}
 · definitions: docs/METRICS.md</span><span>{{ n }} / {{ page_count }}</span></footer>
{% endmacro %}
{% macro data_table(t) %}
<table class="data{{ ' numeric' if t.numeric else '' }}">
  <thead><tr>{% for h in t.header %}<th>{{ h }}</th>{% endfor %}</tr></thead>
  <tbody>{% for row in t.rows %}<tr class="{{ 'total' if t.numeric and loop.last else '' }}">
    {%- for c in row %}<td>{{ c }}</td>{% endfor %}</tr>{% endfor %}</tbody>
</table>
{% endmacro %}
{% macro panel(p, titled=true, with_table=true) %}
{% if titled %}<h3>{{ p.title }}</h3>{% endif %}
{% if p.subtitle %}<p class="sub">{{ p.subtitle }}</p>{% endif %}
{% if p.reason %}
<div class="na-box" data-status="na">n/a — {{ p.reason }}</div>
{% else %}
{% if p.svg %}{{ p.svg }}{% endif %}
{% if p.table and with_table %}{{ data_table(p.table) }}{% endif %}
{% if p.source %}<div class="source">Dashboard card: {{ p.source }}</div>{% endif %}
{% endif %}
{% endmacro %}
{% macro delta(text, good, what) %}
{% if text %}<span class="{{ 'good' if good else 'bad' if good == false else '' }}"><b>{{ text }}</b>
 <span class="vs">{{ what }}</span></span>{% endif %}
{% endmacro %}
{% macro tile(k) %}
<div class="tile" data-kpi="{{ k.field or k.label }}" data-status="{{ 'ok' if k.available else 'na' }}"
     title="{{ k.label }}: {{ k.definition }} (dashboard: {{ k.dashboard }})">
  <div class="label"><span>{{ k.label }}</span><span class="period">{{ k.period_label }}</span></div>
  {% if k.available %}
  <div class="value">{{ k.display }}</div>
  <div class="delta {{ 'good' if k.previous_good else 'bad' if k.previous_good == false else '' }}">
    {{ delta(k.vs_previous, k.previous_good, 'vs previous period') }}</div>
  <div class="delta {{ 'good' if k.last_year_good else 'bad' if k.last_year_good == false else '' }}">
    {{ delta(k.vs_last_year, k.last_year_good, 'vs a year earlier') }}</div>
  {% else %}
  <div class="value na">n/a <span class="reason">— {{ k.reason }}</span></div>
  {% endif %}
  <div class="def">{{ k.definition }}</div>
</div>
{% endmacro %}

<section class="page cover" id="cover">
  <div>
    <div class="band">
      <div class="brand">execmetrics · board pack</div>
      <h1>{{ pack.scope }}</h1>
      <p class="window">{{ pack.window_label }}</p>
    </div>
    <dl>
      <dt>Latest data</dt>
      <dd>{{ pack.latest_data.isoformat() if pack.latest_data else 'n/a — the reporting layer is not built' }}</dd>
      <dt>Generated</dt><dd>{{ pack.generated_at.strftime('%Y-%m-%d %H:%M %Z') }}</dd>
      <dt>Reporting currency</dt><dd>{{ pack.currency }}</dd>
      <dt>Reporting timezone</dt><dd>{{ pack.timezone }}</dd>
      <dt>Revenue policy</dt><dd>{{ pack.policy or 'n/a — not recorded' }}</dd>
      <dt>Comparisons</dt><dd>previous period, and the same period a year earlier</dd>
    </dl>
    <div class="headlines">
    {% for k in pack.headlines %}
      <div class="headline" data-kpi="{{ k.field or k.label }}">
        <div class="h-label">{{ k.label }}</div><div class="h-period">{{ k.period_label }}</div>
        <div class="h-value{{ '' if k.available else ' na' }}">{{ k.display }}</div>
        <div class="h-delta">{{ (k.vs_previous ~ ' vs previous period') if k.vs_previous else '' }}</div></div>
    {% endfor %}
    </div>
    {% if pack.cover_trend.svg %}<div class="cover-chart"><h3>MRR by month</h3>{{ pack.cover_trend.svg }}</div>
    {% endif %}
    <p class="contents">Contents: 2 Revenue · 3 Customers, product and operations · 4 MRR · 5 Engagement,
      retention and operations · 6 Cohort retention · 7 Movements and alerts. Every number is a card of the
      Metabase dashboards, from the reporting layer; fresh numbers are month to date as of the latest data.</p>
    {% set gaps = pack.unavailable() %}
    {% if gaps %}
    <div class="gaps"><strong>Not available in this pack ({{ gaps | length }}):</strong>
      <ul>{% for what, why in gaps %}<li>{{ what }}: n/a — {{ why }}</li>{% endfor %}</ul></div>
    {% endif %}
  </div>
  {{ footer(1) }}
</section>

<section class="page" id="revenue">
  {{ section_header('Revenue') }}
  <div class="tiles revenue">{% for k in pack.revenue %}{{ tile(k) }}{% endfor %}</div>
  {{ footer(2) }}
</section>

<section class="page" id="operating">
  {{ section_header('Customers, product and operations') }}
  <div class="tiles operating">{% for k in pack.operating %}{{ tile(k) }}{% endfor %}</div>
  {{ footer(3) }}
</section>

<section class="page" id="mrr">
  {{ section_header('MRR') }}
  <div class="cols2">
    <div>{{ panel(pack.mrr_trend) }}</div>
    <div>{{ panel(pack.bridge, with_table=false) }}</div>
  </div>
  {% if pack.bridge.table and not pack.bridge.reason %}
  <h3>MRR movements by month</h3>{{ data_table(pack.bridge.table) }}
  {% endif %}
  {{ footer(4) }}
</section>

<section class="page" id="engagement">
  {{ section_header('Engagement, retention and operations') }}
  <div class="cols2">
    <div>{{ panel(pack.engagement) }}</div>
    <div>{{ panel(pack.retention) }}</div>
    <div>{{ panel(pack.jobs) }}</div>
    <div>{{ panel(pack.latency) }}</div>
  </div>
  {{ footer(5) }}
</section>

<section class="page" id="cohorts">
  {{ section_header('Cohort retention') }}
  {{ panel(pack.cohorts, titled=false) }}
  {{ footer(6) }}
</section>

<section class="page" id="movements">
  {{ section_header('Movements and alerts') }}
  <div class="grid2">
    <div>{{ panel(pack.movements) }}</div>
    <div>{{ panel(pack.alerts) }}</div>
  </div>
  {{ footer(7) }}
</section>
</body>
</html>
"""
