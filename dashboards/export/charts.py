"""The board pack's charts: Vega-Altair specifications rendered offline to inline SVG by vl-convert (no JavaScript
in the pack, nothing fetched). One function per chart type the pack shows: a line chart with an optional dashed
comparison series, the MRR bridge (stacked movements with the net change), and a retention heatmap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import altair as alt
import vl_convert
from markupsafe import Markup

FONT = "Liberation Sans, Arial, DejaVu Sans, sans-serif"
INK = "#1f2937"
MUTED = "#6b7280"
GRID = "#e5e7eb"
PALETTE = ["#1e3a8a", "#0d9488", "#f59e0b", "#7c3aed", "#dc2626", "#64748b"]
BUCKET_COLORS = {
    "New": "#1e3a8a",
    "Expansion": "#3b82f6",
    "Reactivation": "#93c5fd",
    "Contraction": "#f59e0b",
    "Churn": "#dc2626",
    "Currency": "#9ca3af",
}


def _config(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    return (
        chart.configure(font=FONT, background="white")
        .configure_view(stroke=None)
        .configure_axis(
            labelColor=MUTED,
            titleColor=MUTED,
            gridColor=GRID,
            domainColor=GRID,
            tickColor=GRID,
            labelFontSize=11,
            titleFontSize=11,
            titleFontWeight="normal",
        )
        .configure_legend(labelColor=INK, titleColor=MUTED, labelFontSize=11, orient="top", title=None)
    )


def render_svg(chart: alt.TopLevelMixin) -> Markup:
    """The chart as inline SVG markup (class `chart`, scaled by its viewBox)."""
    spec = _config(chart).to_dict()
    spec["padding"] = {"left": 12, "right": 8, "top": 4, "bottom": 4}  # room for the longest axis label
    svg = vl_convert.vegalite_to_svg(spec)
    svg = svg.replace("<svg ", '<svg class="chart" role="img" ', 1)
    return Markup(svg)  # noqa: S704 - vl-convert's own output, no user text unescaped in it


def _axis_format(kind: str, currency_symbol: str) -> dict[str, Any]:
    if kind == "pct":
        return {"format": ".0%"}
    if kind == "money":
        return {"labelExpr": f"'{currency_symbol}' + format(datum.value, '~s')"}
    if kind == "ms":
        return {"format": ",.0f"}
    return {"format": ",~r"}


def line_chart(
    periods: Sequence[date],
    series: Mapping[str, Sequence[float | None]],
    *,
    kind: str = "count",
    currency_symbol: str = "$",
    dashed: Sequence[str] = (),
    width: int = 760,
    height: int = 230,
) -> Markup:
    """One line per series over the periods; series named in `dashed` (a comparison, e.g. last year) are dashed."""
    rows = [
        {"period": p.isoformat(), "series": name, "value": values[i], "dashed": name in dashed}
        for name, values in series.items()
        for i, p in enumerate(periods)
        if values[i] is not None
    ]
    names = list(series)
    base = alt.Chart(alt.Data(values=rows)).encode(
        x=alt.X("period:T", title=None, axis=alt.Axis(format="%b %y", grid=False, labelAngle=0, tickCount=12)),
        y=alt.Y("value:Q", title=None, axis=alt.Axis(**_axis_format(kind, currency_symbol))),
        color=alt.Color(
            "series:N", scale=alt.Scale(domain=names, range=PALETTE[: len(names)]), sort=names, legend=alt.Legend()
        ),
        strokeDash=alt.StrokeDash(
            "dashed:N", scale=alt.Scale(domain=[False, True], range=[[1, 0], [5, 4]]), legend=None
        ),
    )
    chart = base.mark_line(strokeWidth=2.5, interpolate="linear") + base.mark_point(filled=True, size=28)
    return render_svg(chart.properties(width=width, height=height))


def bridge_chart(
    months: Sequence[date],
    buckets: Mapping[str, Sequence[float]],
    *,
    currency_symbol: str = "$",
    width: int = 760,
    height: int = 250,
) -> Markup:
    """The MRR bridge: gains stacked above zero, losses below, and a diamond at each month's net change."""
    rows = [
        {"month": m.isoformat(), "movement": name, "mrr": values[i]}
        for name, values in buckets.items()
        for i, m in enumerate(months)
        if values[i]
    ]
    nets = [{"month": m.isoformat(), "net": sum(v[i] for v in buckets.values())} for i, m in enumerate(months)]
    names = [n for n in BUCKET_COLORS if n in buckets]
    x = alt.X("month:O", title=None, timeUnit="yearmonth", axis=alt.Axis(format="%b", labelAngle=0))
    bars = (
        alt.Chart(alt.Data(values=rows))
        .mark_bar(size=22)
        .encode(
            x=x,
            y=alt.Y("mrr:Q", title=None, stack="zero", axis=alt.Axis(**_axis_format("money", currency_symbol))),
            color=alt.Color(
                "movement:N", scale=alt.Scale(domain=names, range=[BUCKET_COLORS[n] for n in names]), sort=names
            ),
            order=alt.Order("order:Q"),
        )
        .transform_calculate(order=f"indexof({names!r}, datum.movement)")
    )
    net = (
        alt.Chart(alt.Data(values=nets))
        .mark_point(shape="diamond", filled=True, size=90, color=INK)
        .encode(x=x, y="net:Q")
    )
    zero = alt.Chart(alt.Data(values=[{"y": 0}])).mark_rule(color=MUTED).encode(y="y:Q")
    return render_svg((bars + zero + net).properties(width=width, height=height))


def heatmap(
    rows: Sequence[str], columns: Sequence[str], values: dict[tuple[int, int], float], *, width: int = 760
) -> Markup:
    """A retention heatmap: one row per cohort, one column per period, the share in each cell (blank: unknown)."""
    cells = [
        {"cohort": rows[r], "period": columns[c], "value": v, "label": f"{v * 100:.0f}%"}
        for (r, c), v in values.items()
    ]
    base = alt.Chart(alt.Data(values=cells)).encode(
        x=alt.X("period:O", sort=list(columns), title="Months since signup", axis=alt.Axis(orient="top", labelAngle=0)),
        y=alt.Y("cohort:O", sort=list(rows), title=None),
    )
    rects = base.mark_rect(stroke="white", strokeWidth=2).encode(
        color=alt.Color("value:Q", scale=alt.Scale(domain=[0, 1], range=["#eff6ff", "#1e3a8a"]), legend=None)
    )
    text = base.mark_text(fontSize=11).encode(
        text="label:N", color=alt.condition("datum.value > 0.55", alt.value("white"), alt.value(INK))
    )
    return render_svg((rects + text).properties(width=width, height=max(22 * len(rows), 60)))
