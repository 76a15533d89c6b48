"""The board pack: one self-contained HTML file (inline CSS, inline SVG, no scripts) that prints to A4 landscape.

Pages: cover, KPI tiles, trends (MRR, DAU/MAU), MRR movements, cohort retention, recent alerts.
Anything whose mart or column is missing, or whose value is NULL, reads "n/a — <reason>".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

import jinja2
import psycopg
from markupsafe import Markup

from dashboards.export import charts
from dashboards.export.catalog import ALL_TENANTS, MartCatalog
from dashboards.export.formatting import (
    fmt_cell,
    fmt_count,
    fmt_day,
    fmt_money,
    fmt_money_compact,
    fmt_ms,
    fmt_pct,
    fmt_pct_axis,
    to_float,
)
from dashboards.export.queries import (
    Alerts,
    Cohorts,
    Kpi,
    Movements,
    Series,
    Unavailable,
    Window,
    fetch_alerts,
    fetch_cohorts,
    fetch_kpis,
    fetch_mart_currency,
    fetch_movements,
    fetch_policy,
    fetch_series,
    latest_data_date,
)

SECTIONS = ("cover", "kpis", "trends", "movements", "cohorts", "alerts")
PAGE_COUNT = len(SECTIONS)  # each section is one A4 landscape page


@dataclass
class Panel:
    """A chart (or table) of the pack, or the reason it cannot be shown."""

    title: str
    subtitle: str = ""
    svg: Markup | None = None
    reason: str | None = None
    source: str = ""
    table: dict[str, object] | None = None


@dataclass
class BoardPack:
    window: Window
    tenant: str | None
    currency: str
    timezone: str
    generated_at: datetime
    latest_data: date | None
    policy: str | None
    kpis: list[Kpi]
    mrr: Panel
    dau_mau: Panel
    movements: Panel
    cohorts: Panel
    alerts: Panel
    notes: list[str] = field(default_factory=list)

    @property
    def scope(self) -> str:
        return f"Tenant {self.tenant}" if self.tenant else "All tenants"

    @property
    def window_label(self) -> str:
        return f"{fmt_day(self.window.start)} – {fmt_day(self.window.end)}"

    @property
    def headlines(self) -> list[Kpi]:
        keys = ("mrr", "arr", "nrr", "paying_customers", "dau_mau")
        return [k for key in keys for k in self.kpis if k.spec.key == key]

    def unavailable(self) -> list[tuple[str, str]]:
        """(what, reason) for every KPI and panel shown as n/a."""
        out = [(k.spec.label, k.reason or "") for k in self.kpis if not k.available]
        out += [(p.title, p.reason or "") for p in (self.mrr, self.dau_mau, self.movements, self.cohorts, self.alerts)]
        return [(w, r) for w, r in out if r]


def _series_panel(title: str, subtitle: str, got: Series | Unavailable, fmt: object, tick_fmt: object = None) -> Panel:
    if isinstance(got, Unavailable):
        return Panel(title, subtitle, reason=got.reason)
    svg = charts.line_chart(got.points, y_format=fmt, tick_format=tick_fmt, label=title, height=235)  # type: ignore[arg-type]
    return Panel(title, subtitle, svg=svg, source=got.source)


def _movements_panel(got: Movements | Unavailable) -> Panel:
    title = "MRR movements"
    subtitle = "New, expansion and reactivation MRR gained; contraction and churn lost; ◆ net new MRR"
    if isinstance(got, Unavailable):
        return Panel(title, subtitle, reason=got.reason)

    def compact(v: float) -> str:
        return fmt_money_compact(v, got.currency)

    svg = charts.movements_chart(got.months, got.buckets, y_format=compact, label=title)
    months = got.months[-12:]
    offset = len(got.months) - len(months)
    rows = [(label, [compact(vals[offset + i]) for i in range(len(months))]) for _, label, vals in got.buckets]
    nets = [sum(vals[offset + i] for _, _, vals in got.buckets) for i in range(len(months))]
    rows.append(("Net new MRR", [compact(v) for v in nets]))
    table = {"header": [m.strftime("%b %y") for m in months], "rows": rows}
    return Panel(title, subtitle, svg=svg, source=got.source, table=table)


def _cohort_panel(got: Cohorts | Unavailable) -> Panel:
    title = "Cohort retention"
    if isinstance(got, Unavailable):
        return Panel(title, "Share of each signup cohort active in each period after signup", reason=got.reason)
    unit = got.period_unit
    members = f" of {got.basis}" if got.basis else ""
    subtitle = f"Share of each signup cohort{members} active in each {unit} after signup (blank: not yet observable)"
    rows = [c.strftime("%b %Y") if unit == "month" else c.isoformat() for c in got.cohorts]
    notes = [fmt_count(got.sizes[i]) if i in got.sizes else "—" for i in range(len(got.cohorts))]
    cols = [f"{'M' if unit == 'month' else 'W'}{p}" for p in got.periods]
    svg = charts.heatmap(rows, cols, got.values, cell_format=fmt_pct, row_notes=notes, label=title)
    return Panel(title, subtitle, svg=svg, source=got.source)


ALERT_HEADERS = {
    "metric_date": "Date", "alert_date": "Date", "tenant_id": "Tenant", "metric": "Metric", "metric_name": "Metric",
    "metric_value": "Value", "value": "Value", "expected_value": "Expected", "expected": "Expected",
    "z_score": "z-score", "message": "Message",
}  # fmt: skip
VALUE_COLUMNS = ("metric_value", "value", "observed", "actual", "observed_value", "expected", "expected_value",
                 "baseline", "baseline_value")  # fmt: skip


def _alert_value(metric: str, value: object, currency: str) -> str:
    """Alert values in their metric's unit: rates as percentages, latencies in ms, counts with separators."""
    v = to_float(value)
    if v is None or isinstance(value, str):
        return fmt_cell(value, currency)
    if metric.endswith(("_rate", "_ratio")):
        return fmt_pct(v)
    if metric.endswith("_ms"):
        return fmt_ms(v)
    if metric.endswith("mrr") or metric in ("arpa", "arr"):
        return fmt_money(v, currency)
    return fmt_count(v) if v == int(v) else fmt_cell(value, currency)


def _alerts_panel(got: Alerts | Unavailable, currency: str) -> Panel:
    title = "Recent alerts"
    if isinstance(got, Unavailable):
        return Panel(title, reason=got.reason)
    header = [ALERT_HEADERS.get(c, c.replace("_", " ").capitalize()) for c in got.columns]
    metric_at = next((i for i, c in enumerate(got.columns) if c in ("metric", "metric_name", "kpi")), None)
    rows = []
    for r in got.rows:
        metric = str(r[metric_at]) if metric_at is not None else ""
        cells = []
        for col, v in zip(got.columns, r, strict=True):
            if col in VALUE_COLUMNS:
                cells.append(_alert_value(metric, v, currency))
            elif col == "tenant_id" and v == ALL_TENANTS:
                cells.append("All tenants")
            elif col == "z_score" and v is not None:
                cells.append(f"{float(v):+.1f}")
            else:
                cells.append(fmt_cell(v, currency))
        rows.append(cells)
    subtitle = (
        f"{len(got.rows)} most recent of {got.total} alerts in the window" if got.total else "No alerts in the window"
    )
    return Panel(title, subtitle, source=got.source, table={"header": header, "rows": rows})


def build_board_pack(
    conn: psycopg.Connection,
    catalog: MartCatalog,
    window: Window,
    *,
    tenant: str | None,
    currency: str,
    timezone: str,
    now: datetime | None = None,
) -> BoardPack:
    generated_at = (now or datetime.now(ZoneInfo("UTC"))).astimezone(ZoneInfo(timezone))
    # The marts' own currency wins over the setting: it is what the numbers are in.
    currency = fetch_mart_currency(conn, catalog) or currency
    kpis = fetch_kpis(conn, catalog, window, tenant, currency)
    mrr = fetch_series(conn, catalog, "mrr", window, tenant, currency)
    mrr_currency = mrr.currency if isinstance(mrr, Series) and mrr.currency else currency
    dau_mau = fetch_series(conn, catalog, "dau_mau", window, tenant, currency)
    return BoardPack(
        window=window,
        tenant=tenant,
        currency=currency,
        timezone=timezone,
        generated_at=generated_at,
        latest_data=latest_data_date(conn, catalog),
        policy=fetch_policy(conn, catalog, window),
        kpis=kpis,
        mrr=_series_panel(
            "MRR", "Month-end monthly recurring revenue", mrr, lambda v: fmt_money_compact(v, mrr_currency)
        ),
        dau_mau=_series_panel("DAU/MAU", "Daily stickiness: DAU ÷ MAU", dau_mau, fmt_pct, fmt_pct_axis),
        movements=_movements_panel(fetch_movements(conn, catalog, window, tenant, currency)),
        cohorts=_cohort_panel(fetch_cohorts(conn, catalog, window, tenant)),
        alerts=_alerts_panel(fetch_alerts(conn, catalog, window, tenant), currency),
    )


def render_html(pack: BoardPack) -> str:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env.from_string(TEMPLATE).render(pack=pack, fmt_money=fmt_money)


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
body { margin: 0; background: #eef0f3; color: #1f2937;
       font-family: 'Liberation Sans', Arial, 'DejaVu Sans', sans-serif; font-size: 13px; line-height: 1.35; }
.page { background: #fff; width: 297mm; min-height: 210mm; margin: 18px auto; padding: 10mm 12mm;
        box-shadow: 0 1px 4px rgba(15, 23, 42, .12); position: relative; }
.page + .page { break-before: page; }
header.section { display: flex; align-items: baseline; justify-content: space-between;
                 border-bottom: 2px solid #1e3a8a; padding-bottom: 6px; margin-bottom: 12px; }
header.section h2 { margin: 0; font-size: 20px; color: #0f172a; }
header.section .meta { color: #6b7280; font-size: 11.5px; }
h3 { margin: 6px 0 2px; font-size: 15px; color: #0f172a; }
.sub { color: #6b7280; font-size: 11.5px; margin: 0 0 4px; }
.source { color: #9ca3af; font-size: 10.5px; margin-top: 2px; }
svg.chart { display: block; width: 100%; height: auto; }
.na { color: #6b7280; }
.na-box { border: 1px dashed #cbd5e1; border-radius: 6px; padding: 18px; color: #6b7280; background: #f8fafc;
          font-size: 14px; margin: 6px 0 12px; }

/* cover */
.cover { display: flex; flex-direction: column; justify-content: space-between; }
.cover .brand { color: #1e3a8a; font-weight: bold; letter-spacing: .12em; text-transform: uppercase; font-size: 12px; }
.cover h1 { font-size: 40px; margin: 48px 0 8px; color: #0f172a; }
.cover .window { font-size: 22px; color: #1e3a8a; margin: 0 0 28px; }
.cover dl { display: grid; grid-template-columns: 190px 1fr; gap: 6px 16px; font-size: 13.5px; margin: 0; }
.cover dt { color: #6b7280; }
.cover dd { margin: 0; }
.headlines { display: grid; grid-template-columns: repeat(5, 1fr); gap: 10px; margin-top: 26px; }
.headline { background: #f1f5f9; border-radius: 8px; padding: 10px 14px; }
.headline .h-label { font-size: 11px; color: #4b5563; text-transform: uppercase; letter-spacing: .05em; }
.headline .h-value { font-size: 24px; font-weight: bold; color: #0f172a; margin-top: 2px; }
.headline .h-value.na { color: #9ca3af; }
.headline .h-delta { font-size: 11.5px; color: #6b7280; min-height: 15px; }
.cover .contents { margin-top: 26px; color: #374151; font-size: 13px; }
.cover .gaps { margin-top: 18px; font-size: 11.5px; color: #6b7280; }
.cover .gaps ul { columns: 2; column-gap: 28px; margin: 4px 0 0; padding-left: 18px; }
.cover .gaps li { break-inside: avoid; }

/* KPI tiles */
.tiles { display: grid; grid-template-columns: repeat(4, 1fr); gap: 9px; }
.tile { border: 1px solid #e5e7eb; border-radius: 8px; padding: 9px 12px 8px; min-height: 142px;
        display: flex; flex-direction: column; border-top: 3px solid #1e3a8a; }
.tile.group-product { border-top-color: #0d9488; }
.tile .label { font-size: 11px; text-transform: uppercase; letter-spacing: .06em; color: #4b5563; font-weight: bold;
               display: flex; justify-content: space-between; }
.tile .label .period { font-weight: normal; text-transform: none; letter-spacing: 0; color: #9ca3af; }
.tile .value { font-size: 27px; font-weight: bold; color: #0f172a; margin: 4px 0 1px; white-space: nowrap; }
.tile .value.na { color: #9ca3af; font-size: 22px; white-space: normal; }
.tile .value .reason { display: block; font-size: 11px; font-weight: normal; color: #6b7280; margin-top: 2px; }
.tile .delta { font-size: 12px; color: #6b7280; min-height: 16px; }
.tile .delta.good { color: #047857; font-weight: bold; }
.tile .delta.bad { color: #b91c1c; font-weight: bold; }
.tile .delta .vs { font-weight: normal; color: #9ca3af; }
.tile .def { font-size: 10.5px; color: #6b7280; margin-top: auto; padding-top: 4px; }

/* tables */
table.data { border-collapse: collapse; width: 100%; font-size: 12px; margin-top: 6px; }
table.data th { text-align: left; color: #4b5563; font-weight: bold; border-bottom: 1.5px solid #cbd5e1;
                padding: 5px 6px; }
table.data td { border-bottom: 1px solid #eef0f3; padding: 5px 6px; vertical-align: top; }
table.data th, table.data.alerts td:nth-child(-n+2) { white-space: nowrap; }
table.data.numeric td:not(:first-child), table.data.numeric th:not(:first-child) { text-align: right; }
table.data tr.total td { font-weight: bold; border-top: 1.5px solid #cbd5e1; }
.sev-critical, .sev-high { color: #b91c1c; font-weight: bold; }
.sev-warning, .sev-medium { color: #b45309; font-weight: bold; }
.grid2 { display: grid; grid-template-rows: auto auto; gap: 8px; }
footer { position: absolute; left: 12mm; right: 12mm; bottom: 5mm; font-size: 10px; color: #9ca3af;
         display: flex; justify-content: space-between; }

@media print {
  body { background: #fff; }
  .page { width: auto; min-height: 0; height: 189mm; margin: 0; padding: 0; box-shadow: none; }
  footer { left: 0; right: 0; bottom: 0; }
}
</style>
</head>
<body>
{% macro section_header(title, n) %}
<header class="section"><h2>{{ title }}</h2>
<span class="meta">{{ pack.scope }} · {{ pack.window_label }}</span></header>
{% endmacro %}
{% macro footer(n) %}
<footer><span>execmetrics board pack · generated {{ pack.generated_at.strftime('%Y-%m-%d %H:%M %Z') }}</span>
<span>{{ n }} / {{ 6 }}</span></footer>
{% endmacro %}
{% macro panel(p, titled=true) %}
{% if titled %}<h3>{{ p.title }}</h3>{% endif %}
{% if p.subtitle %}<p class="sub">{{ p.subtitle }}</p>{% endif %}
{% if p.reason %}
<div class="na-box" data-status="na">n/a — {{ p.reason }}</div>
{% else %}
{% if p.svg %}{{ p.svg }}{% endif %}
{% if p.source %}<div class="source">Source: {{ p.source }}</div>{% endif %}
{% endif %}
{% endmacro %}

<section class="page cover" id="cover">
  <div>
    <div class="brand">execmetrics · executive metrics</div>
    <h1>Board pack</h1>
    <p class="window">{{ pack.window_label }}</p>
    <dl>
      <dt>Scope</dt><dd>{{ pack.scope }}</dd>
      <dt>Reporting window</dt>
      <dd>{{ pack.window.start.isoformat() }} to {{ pack.window.end.isoformat() }} (inclusive)</dd>
      <dt>Generated</dt><dd>{{ pack.generated_at.strftime('%Y-%m-%d %H:%M %Z') }}</dd>
      <dt>Latest data</dt>
      <dd>{{ pack.latest_data.isoformat() if pack.latest_data else 'n/a — no mart holds dated rows' }}</dd>
      <dt>Reporting currency</dt><dd>{{ pack.currency }}</dd>
      <dt>Reporting timezone</dt><dd>{{ pack.timezone }}</dd>
      <dt>Revenue policy</dt><dd>{{ pack.policy or 'n/a — not recorded on the revenue marts' }}</dd>
    </dl>
    <div class="headlines">
    {% for k in pack.headlines %}
      <div class="headline"><div class="h-label">{{ k.spec.label }}{% if k.period_label %}
        · {{ k.period_label }}{% endif %}</div>
        <div class="h-value{{ '' if k.available else ' na' }}">{{ k.display }}</div>
        <div class="h-delta">{{ (k.delta ~ ' MoM') if k.delta else '' }}</div></div>
    {% endfor %}
    </div>
    <p class="contents">Contents: 2 Key metrics · 3 Trends · 4 MRR movements · 5 Cohort retention · 6 Recent alerts.
      Definitions of every metric: docs/METRICS.md.</p>
    {% set gaps = pack.unavailable() %}
    {% if gaps %}
    <div class="gaps"><strong>Not available in this pack ({{ gaps | length }}):</strong>
      <ul>{% for what, why in gaps %}<li>{{ what }}: n/a — {{ why }}</li>{% endfor %}</ul></div>
    {% endif %}
  </div>
  {{ footer(1) }}
</section>

<section class="page" id="kpis">
  {{ section_header('Key metrics', 2) }}
  <div class="tiles">
  {% for k in pack.kpis %}
    <div class="tile group-{{ k.spec.group }}" data-kpi="{{ k.spec.key }}"
         data-status="{{ 'ok' if k.available else 'na' }}"
         title="{{ k.spec.label }}: {{ k.spec.definition }}{% if k.source %} (source: {{ k.source }}){% endif %}">
      <div class="label"><span>{{ k.spec.label }}</span><span class="period">{{ k.period_label }}</span></div>
      {% if k.available %}
      <div class="value">{{ k.display }}</div>
      <div class="delta {{ 'good' if k.delta_good else 'bad' if k.delta_good == false else '' }}">
        {% if k.delta %}{{ k.delta }} <span class="vs">vs prior month</span>
        {% else %}<span class="vs">MoM: n/a — {{ k.delta_note }}</span>{% endif %}
      </div>
      {% else %}
      <div class="value na">n/a <span class="reason">— {{ k.reason }}</span></div>
      {% endif %}
      <div class="def">{{ k.spec.definition }}</div>
    </div>
  {% endfor %}
  </div>
  {{ footer(2) }}
</section>

<section class="page" id="trends">
  {{ section_header('Trends', 3) }}
  <div class="grid2">
    <div>{{ panel(pack.mrr) }}</div>
    <div>{{ panel(pack.dau_mau) }}</div>
  </div>
  {{ footer(3) }}
</section>

<section class="page" id="movements">
  {{ section_header('MRR movements', 4) }}
  {{ panel(pack.movements, titled=false) }}
  {% if pack.movements.table %}
  <table class="data numeric">
    <thead><tr><th></th>{% for h in pack.movements.table.header %}<th>{{ h }}</th>{% endfor %}</tr></thead>
    <tbody>{% for label, cells in pack.movements.table.rows %}
      <tr class="{{ 'total' if loop.last else '' }}"><td>{{ label }}</td>
        {%- for c in cells %}<td>{{ c }}</td>{% endfor %}</tr>
    {% endfor %}</tbody>
  </table>
  {% endif %}
  {{ footer(4) }}
</section>

<section class="page" id="cohorts">
  {{ section_header('Cohort retention', 5) }}
  {{ panel(pack.cohorts, titled=false) }}
  {{ footer(5) }}
</section>

<section class="page" id="alerts">
  {{ section_header('Recent alerts', 6) }}
  {{ panel(pack.alerts, titled=false) }}
  {% if pack.alerts.table %}
  {% if pack.alerts.table.rows %}
  <table class="data alerts">
    <thead><tr>{% for h in pack.alerts.table.header %}<th>{{ h }}</th>{% endfor %}</tr></thead>
    <tbody>{% for row in pack.alerts.table.rows %}
      <tr>{% for c in row %}
        {%- set sev = pack.alerts.table.header[loop.index0] == 'Severity' -%}
        <td{% if sev %} class="sev-{{ c | lower }}"{% endif %}>{{ c }}</td>{% endfor %}</tr>
    {% endfor %}</tbody>
  </table>
  {% endif %}
  {% endif %}
  {{ footer(6) }}
</section>
</body>
</html>
"""
