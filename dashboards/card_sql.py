"""A card's SQL filled in the way Metabase fills a native query's template tags, so the board pack (and the tests)
run a card exactly as a dashboard does.

- A variable becomes a literal: text quoted, a date as `date 'YYYY-MM-DD'`, a number as is.
- A field filter becomes the condition Metabase writes: `"reporting"."<table>"."<column>" = '<value>'`, or `1 = 1`
  when it has no value.
- An optional clause `[[ ... ]]` is kept (without its brackets) when every tag in it has a value, else dropped.
- A tag without a value outside every optional clause fails, as Metabase refuses to run such a card.
Values a caller does not give take the parameter's default.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from dashboards.spec import OPTIONAL_RE, TAG_RE, CardSpec, DashboardSpec, ParameterSpec


class MissingValue(ValueError):
    pass


def _literal(param: ParameterSpec, value: Any) -> str:
    if param.tag_type == "date":
        day = value if isinstance(value, date) else date.fromisoformat(str(value))
        return f"date '{day.isoformat()}'"
    if param.tag_type == "number":
        return str(float(value))
    return "'" + str(value).replace("'", "''") + "'"


def _substitute(sql: str, params: dict[str, ParameterSpec], values: dict[str, Any]) -> str:
    def tag(match: re.Match[str]) -> str:
        name = match.group(1)
        param = params[name]
        value = values.get(name)
        if param.field is not None:
            return "1 = 1" if value is None else f"{param.field.sql} = {_literal(param, value)}"
        if value is None:
            raise MissingValue(f"{{{{{name}}}}} has no value and no default")
        return _literal(param, value)

    return TAG_RE.sub(tag, sql)


def fill(card: CardSpec, spec: DashboardSpec, given: dict[str, Any] | None = None) -> str:
    """The SQL Metabase runs for `card` with the filter values `given` (others at their defaults)."""
    params = {p.slug: p for p in spec.parameters}
    values = {p.slug: p.default for p in spec.parameters}
    values.update(given or {})

    def optional(match: re.Match[str]) -> str:
        inner = match.group(0)[2:-2]
        names = TAG_RE.findall(inner)
        if any(values.get(n) is None and params[n].field is None for n in names):
            return ""
        return _substitute(inner, params, values)

    return _substitute(OPTIONAL_RE.sub(optional, card.sql), params, values)


def named_columns(card: CardSpec) -> set[str]:
    """Every result column the card's visualization settings and click behaviours name."""
    viz = card.visualization
    names: set[str] = set()
    for key in ("graph.dimensions", "graph.metrics"):
        names.update(viz.get(key) or [])
    for key in ("scalar.field", "funnel.dimension", "funnel.metric", "table.pivot_column", "table.cell_column"):
        if viz.get(key):
            names.add(viz[key])
    for comparison in viz.get("scalar.comparisons") or []:
        if comparison.get("column"):
            names.add(comparison["column"])
    for key in viz.get("column_settings") or {}:
        names.add(re.fullmatch(r'\["name","([^"]+)"\]', key).group(1))  # type: ignore[union-attr]
    names.update(viz.get("series_settings") or {})
    for rule in viz.get("table.column_formatting") or []:
        names.update(rule.get("columns") or [])
    for click in card.click:
        if click.column:
            names.add(click.column)
        names.update(name for _, kind, name in click.sources() if kind == "column")
    return names
