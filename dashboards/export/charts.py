"""Inline SVG charts drawn by hand (no JavaScript, nothing fetched): line, diverging stacked bars, heatmap.

Every function returns SVG markup sized by its viewBox, so it scales to its container on screen and in print.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import date
from html import escape

from markupsafe import Markup

INK = "#1f2937"
MUTED = "#6b7280"
GRID = "#e5e7eb"
ACCENT = "#1e3a8a"
FONT = "font-family=\"'Liberation Sans', Arial, 'DejaVu Sans', sans-serif\""

BUCKET_COLORS = {
    "new": "#1e3a8a",
    "expansion": "#3b82f6",
    "reactivation": "#93c5fd",
    "contraction": "#f59e0b",
    "churn": "#dc2626",
    "fx": "#9ca3af",
}


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round axis ticks covering [lo, hi] (lo <= 0 <= hi is kept when given)."""
    if hi == lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(count, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = []
    t = start
    while t < hi + step * 0.999:
        ticks.append(round(t, 10))
        t += step
    return ticks


def _text(
    x: float, y: float, s: str, *, anchor: str = "middle", size: int = 12, fill: str = MUTED, weight: str = ""
) -> str:
    w = f' font-weight="{weight}"' if weight else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" fill="{fill}"{w} {FONT}>'
        f"{escape(s)}</text>"
    )


def _month_label(d: date, with_year: bool) -> str:
    return d.strftime("%b %y") if with_year else d.strftime("%b")


def line_chart(
    points: Sequence[tuple[date, float]],
    *,
    y_format: Callable[[float], str],
    tick_format: Callable[[float], str] | None = None,
    width: int = 1000,
    height: int = 260,
    label: str = "",
    color: str = ACCENT,
    y_min_zero: bool = True,
) -> Markup:
    left, right, top, bottom = 78, 24, 16, 34
    pw, ph = width - left - right, height - top - bottom
    xs = [d.toordinal() for d, _ in points]
    ys = [v for _, v in points]
    x0, x1 = min(xs), max(xs)
    lo = min(0.0, min(ys)) if y_min_zero else min(ys)
    ticks = nice_ticks(lo, max(ys))
    y0, y1 = ticks[0], ticks[-1]

    def px(x: int) -> float:
        return left + (pw / 2 if x1 == x0 else (x - x0) / (x1 - x0) * pw)

    def py(y: float) -> float:
        return top + ph - (y - y0) / ((y1 - y0) or 1) * ph

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg">'
    ]
    for t in ticks:
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="{GRID}"/>')
        parts.append(_text(left - 8, py(t) + 4, (tick_format or y_format)(t), anchor="end", size=11))
    # x labels: month starts, at most ~12 of them
    months = sorted({d.replace(day=1) for d, _ in points})
    step = max(1, math.ceil(len(months) / 12))
    with_year = len({m.year for m in months}) > 1
    for i, m in enumerate(months):
        if i % step or (m.toordinal() < x0 and len(months) > 1):
            continue  # a month that starts before the first point gets no tick (it would sit at the wrong place)
        x = px(m.toordinal())
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top + ph}" y2="{top + ph + 4}" stroke="{MUTED}"/>')
        parts.append(_text(x, top + ph + 18, _month_label(m, with_year or m.month == 1), size=11))
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{top + ph}" y2="{top + ph}" stroke="{MUTED}"/>')
    path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(xs, ys, strict=True))
    area = f"{px(xs[0]):.1f},{py(max(y0, 0)):.1f} {path} {px(xs[-1]):.1f},{py(max(y0, 0)):.1f}"
    parts.append(f'<polygon points="{area}" fill="{color}" fill-opacity="0.08"/>')
    parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2.5" stroke-linejoin="round"/>')
    if len(points) <= 24:
        for x, y in zip(xs, ys, strict=True):
            parts.append(
                f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="#fff" stroke="{color}" stroke-width="2"/>'
            )
    lx, ly = px(xs[-1]), py(ys[-1])
    parts.append(f'<circle cx="{lx:.1f}" cy="{ly:.1f}" r="5" fill="{color}"/>')
    label_svg = _text(
        min(lx, width - right - 4), ly - 10, y_format(ys[-1]), anchor="end", size=12, fill=INK, weight="bold"
    )
    # A white halo keeps the value readable where it crosses the line.
    parts.append(label_svg.replace("<text ", '<text stroke="#fff" stroke-width="4" paint-order="stroke" ', 1))
    parts.append("</svg>")
    return Markup("".join(parts))


def movements_chart(
    months: Sequence[date],
    buckets: Sequence[tuple[str, str, Sequence[float]]],
    *,
    y_format: Callable[[float], str],
    width: int = 1000,
    height: int = 380,
    label: str = "MRR movements",
) -> Markup:
    """Diverging stacked bars per month: gains above zero, losses below, a diamond at the net change."""
    left, right, top, bottom = 78, 24, 40, 34
    pw, ph = width - left - right, height - top - bottom
    n = len(months)
    pos = [sum(max(v[i], 0) for _, _, v in buckets) for i in range(n)]
    neg = [sum(min(v[i], 0) for _, _, v in buckets) for i in range(n)]
    nets = [sum(v[i] for _, _, v in buckets) for i in range(n)]
    ticks = nice_ticks(min(min(neg, default=0), 0), max(max(pos, default=0), 0) or 1)
    y0, y1 = ticks[0], ticks[-1]

    def py(y: float) -> float:
        return top + ph - (y - y0) / ((y1 - y0) or 1) * ph

    slot = pw / max(n, 1)
    bar = min(56.0, slot * 0.62)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg">'
    ]
    # legend
    lx = left
    for key, name, _ in buckets:
        parts.append(f'<rect x="{lx}" y="8" width="12" height="12" rx="2" fill="{BUCKET_COLORS.get(key, MUTED)}"/>')
        parts.append(_text(lx + 17, 18, name, anchor="start", size=12, fill=INK))
        lx += 30 + 7 * len(name) + 20
    parts.append(f'<path d="M{lx} 14 l6 -6 l6 6 l-6 6 z" fill="{INK}"/>')
    parts.append(_text(lx + 17, 18, "Net new MRR", anchor="start", size=12, fill=INK))
    for t in ticks:
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="{GRID}"/>')
        parts.append(_text(left - 8, py(t) + 4, y_format(t), anchor="end", size=11))
    with_year = len({m.year for m in months}) > 1
    for i, m in enumerate(months):
        cx = left + slot * (i + 0.5)
        up, down = 0.0, 0.0
        for key, name, values in buckets:
            v = values[i]
            if v == 0:
                continue
            if v > 0:
                y_top, y_bot = py(up + v), py(up)
                up += v
            else:
                y_top, y_bot = py(down), py(down + v)
                down += v
            parts.append(
                f'<rect x="{cx - bar / 2:.1f}" y="{y_top:.1f}" width="{bar:.1f}" '
                f'height="{max(y_bot - y_top, 0.5):.1f}" '
                f'fill="{BUCKET_COLORS.get(key, MUTED)}"><title>{escape(m.strftime("%b %Y"))} {escape(name)}: '
                f"{escape(y_format(v))}</title></rect>"
            )
        ny = py(nets[i])
        parts.append(
            f'<path d="M{cx - 6:.1f} {ny:.1f} l6 -6 l6 6 l-6 6 z" fill="{INK}" stroke="#fff" stroke-width="1"/>'
        )
        parts.append(_text(cx, top + ph + 18, _month_label(m, with_year or m.month == 1), size=11))
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{py(0):.1f}" y2="{py(0):.1f}" stroke="{INK}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _heat_color(v: float) -> str:
    t = max(0.0, min(1.0, v))
    # from #eff6ff (light) to #1e3a8a (dark)
    a, b = (0xEF, 0xF6, 0xFF), (0x1E, 0x3A, 0x8A)
    r, g, bl = (round(a[k] + (b[k] - a[k]) * t) for k in range(3))
    return f"#{r:02x}{g:02x}{bl:02x}"


def heatmap(
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    values: dict[tuple[int, int], float],
    *,
    cell_format: Callable[[float], str],
    row_notes: Sequence[str] | None = None,
    width: int = 1000,
    label: str = "Cohort retention",
) -> Markup:
    left, note_w, top = 86, 70, 26
    cols = len(col_labels)
    cw = min((width - left - note_w) / max(cols, 1), 110.0)
    ch = 30
    height = top + ch * len(row_labels) + 4
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg">'
    ]
    parts.append(_text(left - 8, 16, "Cohort", anchor="end", size=11, fill=INK, weight="bold"))
    parts.append(_text(left + note_w / 2, 16, "Size", size=11, fill=INK, weight="bold"))
    for j, c in enumerate(col_labels):
        parts.append(_text(left + note_w + cw * (j + 0.5), 16, c, size=11, fill=INK, weight="bold"))
    for i, r in enumerate(row_labels):
        y = top + ch * i
        parts.append(_text(left - 8, y + ch / 2 + 4, r, anchor="end", size=11, fill=INK))
        if row_notes:
            parts.append(_text(left + note_w / 2, y + ch / 2 + 4, row_notes[i], size=11))
        for j in range(cols):
            v = values.get((i, j))
            if v is None:
                continue
            x = left + note_w + cw * j
            parts.append(
                f'<rect x="{x + 1:.1f}" y="{y + 1}" width="{cw - 2:.1f}" height="{ch - 2}" rx="2" '
                f'fill="{_heat_color(v)}"/>'
            )
            parts.append(_text(x + cw / 2, y + ch / 2 + 4, cell_format(v), size=11, fill="#fff" if v > 0.55 else INK))
    parts.append("</svg>")
    return Markup("".join(parts))
