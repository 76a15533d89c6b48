"""Dashboard specs: one YAML file per dashboard under `dashboards/specs/`, loaded and checked here.

A spec names its dashboard, declares its filters (`parameters`) and lists its cards. Every card is a native SQL
query against schema `reporting` (the reporting layer, dbt_project/models/reporting), never the marts. Filters reach
the SQL as Metabase template tags:
- a variable (`{{start_date}}`, `{{granularity}}`): its value is a literal in the SQL; a tag inside an optional
  clause `[[ and ... ]]` may be left empty, a tag outside one needs a default; `values` makes it a dropdown of fixed
  choices;
- a field filter (`field: {table: rpt_tenants, column: tenant_name}`): a dropdown of the column's values; the tag
  stands for a whole condition (`where {{tenant}}`), which Metabase writes as `"reporting"."rpt_tenants".
  "tenant_name" = '...'` (or `1 = 1` when empty), so the card reads that table under its own name, unaliased.
Which cards a filter is wired to is not written in the spec: a dashboard parameter is mapped to every card whose SQL
uses its tag, so the wiring cannot drift from the SQL. `click` links a table column (or every point of a chart) to
another dashboard, passing result columns or this dashboard's filters as that dashboard's filters.

Example:

```yaml
name: Executive overview
description: Revenue at a glance.
parameters:
  - {slug: tenant, name: Tenant, type: string/=, default: All tenants,
     field: {table: rpt_tenants, column: tenant_name}}
  - {slug: granularity, name: Granularity, type: category, default: month, values: [day, week, month]}
cards:
  - name: MRR
    display: smartscalar
    layout: {row: 0, col: 0, size_x: 6, size_y: 3}
    sql: |
      with scope as (
        select case when count(*) = 1 then min(tenant_id) else '__all__' end as tenant_id
        from reporting.rpt_tenants where {{tenant}}
      )
      select period_start, mrr from reporting.rpt_kpi_periods
      where grain = {{granularity}} and tenant_id = (select tenant_id from scope)
      order by period_start
```
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import yaml  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dashboards.reporting import READING_SCHEMA

SPECS_DIR = Path(__file__).resolve().parent / "specs"
GRID_WIDTH = 24  # Metabase's dashboard grid is 24 columns wide
READ_SCHEMA = READING_SCHEMA  # the only schema a card reads (dbt_project/models/reporting)

# Metabase parameter type -> the template-tag type a native query declares for it when the tag is a variable (a field
# filter's tag is of type "dimension", with the parameter type as its widget type).
PARAMETER_TAG_TYPES: dict[str, str] = {
    "date/single": "date",
    "string/=": "text",
    "category": "text",
    "number/=": "number",
}

# Displays a native SQL card can use. Metabase's "pivot" display needs an MBQL (GUI) query, so it is not here:
# a heatmap is a `table` with `table.pivot` and a color-range `table.column_formatting` (see product_engagement.yml).
NATIVE_DISPLAYS = ("scalar", "smartscalar", "line", "bar", "area", "row", "combo", "table", "funnel", "pie", "progress")

TAG_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
OPTIONAL_RE = re.compile(r"\[\[.*?\]\]", re.DOTALL)


class SpecError(ValueError):
    """A spec file that cannot be loaded or breaks a rule; the message names the file and the card."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Layout(_Strict):
    row: int = Field(ge=0)
    col: int = Field(ge=0)
    size_x: int = Field(ge=1, le=GRID_WIDTH)
    size_y: int = Field(ge=1)

    @model_validator(mode="after")
    def _fits(self) -> Layout:
        if self.col + self.size_x > GRID_WIDTH:
            raise ValueError(f"col + size_x = {self.col + self.size_x} exceeds the {GRID_WIDTH}-column grid")
        return self

    def cells(self) -> set[tuple[int, int]]:
        return {
            (r, c) for r in range(self.row, self.row + self.size_y) for c in range(self.col, self.col + self.size_x)
        }


class FieldRef(_Strict):
    """A column of the reporting schema a field filter reads its choices from and filters on."""

    table: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    column: str = Field(pattern=r"^[a-z][a-z0-9_]*$")

    @property
    def sql(self) -> str:
        """How Metabase writes the column in the condition it substitutes for the tag."""
        return f'"{READ_SCHEMA}"."{self.table}"."{self.column}"'


class ParameterSpec(_Strict):
    """A dashboard filter; `slug` is also its Metabase parameter id and the template tag it fills."""

    slug: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str = Field(min_length=1)
    type: Literal["date/single", "string/=", "category", "number/="]
    default: str | int | float | None = None
    field: FieldRef | None = None  # a field filter: a dropdown of this column's values
    values: list[str] | None = Field(default=None, min_length=1)  # a dropdown of fixed choices

    @model_validator(mode="after")
    def _kinds(self) -> ParameterSpec:
        if self.field is not None and self.type != "string/=":
            raise ValueError(f"parameter {self.slug!r}: a field filter is of type string/=")
        if self.field is not None and self.values is not None:
            raise ValueError(f"parameter {self.slug!r}: a field filter takes its choices from its column, not values")
        if self.values is not None and self.default is not None and str(self.default) not in self.values:
            raise ValueError(f"parameter {self.slug!r}: default {self.default!r} is not one of its values")
        return self

    @property
    def tag_type(self) -> str:
        return "dimension" if self.field is not None else PARAMETER_TAG_TYPES[self.type]

    @property
    def is_field_filter(self) -> bool:
        return self.field is not None


class ClickSpec(_Strict):
    """Clicking opens another dashboard: a table column's cell (`column`) or any point of a chart (no column)."""

    dashboard: str = Field(pattern=r"^[a-z][a-z0-9_]*$")  # the target's spec key
    column: str | None = None
    # target filter slug -> a column of this card's result, or `{{slug}}`: this dashboard's filter value
    parameters: dict[str, str] = Field(min_length=1)

    def sources(self) -> list[tuple[str, str, str]]:
        """(target slug, source kind column|parameter, source name)."""
        out = []
        for target, source in self.parameters.items():
            match = TAG_RE.fullmatch(source.strip())
            out.append((target, "parameter", match.group(1)) if match else (target, "column", source.strip()))
        return out


class CardSpec(_Strict):
    name: str = Field(min_length=1)
    description: str | None = None
    display: str
    sql: str = Field(min_length=1)
    visualization: dict[str, Any] = Field(default_factory=dict)
    layout: Layout
    click: list[ClickSpec] = Field(default_factory=list)

    @field_validator("display")
    @classmethod
    def _display(cls, value: str) -> str:
        if value == "pivot":
            raise ValueError(
                "Metabase's pivot display only works with GUI (MBQL) questions; for a native query use "
                "display: table with visualization {table.pivot: true, table.pivot_column, table.cell_column}"
            )
        if value not in NATIVE_DISPLAYS:
            raise ValueError(f"display must be one of {', '.join(NATIVE_DISPLAYS)}")
        return value

    @field_validator("sql")
    @classmethod
    def _sql(cls, value: str) -> str:
        return value.strip().rstrip(";").strip()

    @property
    def tags(self) -> list[str]:
        """Template tags the SQL uses, in order of first use."""
        return list(dict.fromkeys(TAG_RE.findall(self.sql)))

    @property
    def required_tags(self) -> set[str]:
        """Tags used outside every `[[ ... ]]` optional clause: the query fails without a value for them."""
        return set(TAG_RE.findall(OPTIONAL_RE.sub("", self.sql)))


class DashboardSpec(_Strict):
    key: str  # the file stem, e.g. executive_overview
    name: str = Field(min_length=1)
    description: str | None = None
    parameters: list[ParameterSpec] = Field(default_factory=list)
    cards: list[CardSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _rules(self) -> DashboardSpec:
        problems: list[str] = []
        seen_params = [p.slug for p in self.parameters]
        for dup in {s for s in seen_params if seen_params.count(s) > 1}:
            problems.append(f"parameter {dup!r} is declared twice")
        params = {p.slug: p for p in self.parameters}
        names = [c.name for c in self.cards]
        for dup in {n for n in names if names.count(n) > 1}:
            problems.append(f"card name {dup!r} is used twice")
        used: set[str] = set()
        occupied: dict[tuple[int, int], str] = {}
        for card in self.cards:
            for tag in card.tags:
                used.add(tag)
                if tag not in params:
                    problems.append(f"card {card.name!r}: template tag {{{{{tag}}}}} is not a dashboard parameter")
                elif params[tag].is_field_filter:
                    problems += [f"card {card.name!r}: {p}" for p in field_filter_problems(card.sql, params[tag])]
                elif tag in card.required_tags and params[tag].default is None:
                    problems.append(
                        f"card {card.name!r}: {{{{{tag}}}}} is outside a [[ ... ]] optional clause, "
                        f"so parameter {tag!r} needs a default"
                    )
            for click in card.click:
                for _, kind, name in click.sources():
                    if kind == "parameter" and name not in params:
                        problems.append(f"card {card.name!r}: click passes {{{{{name}}}}}, not a filter of {self.key}")
                if click.column is None and card.display == "table":
                    problems.append(f"card {card.name!r}: a table's click names the column that links")
            for problem in sql_problems(card.sql):
                problems.append(f"card {card.name!r}: {problem}")
            for cell in card.layout.cells():
                if cell in occupied:
                    problems.append(f"card {card.name!r} overlaps card {occupied[cell]!r} at row/col {cell}")
                    break
                occupied[cell] = card.name
        for slug in params:
            if slug not in used:
                problems.append(f"parameter {slug!r} is used by no card")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def cards_using(self, slug: str) -> list[CardSpec]:
        return [c for c in self.cards if slug in c.tags]


# ------------------------------------------------------------------------------------------------ SQL checks

_COMMENT_RE = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_STRING_RE = re.compile(r"'(?:[^']|'')*'")
_TABLE_REF_RE = re.compile(
    r"\b(?:from|join)\s+(?!\()([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)(?:\s+(?:as\s+)?([A-Za-z_]\w*))?",
    re.IGNORECASE,
)
_CTE_RE = re.compile(
    r"(?:\bwith\s+(?:recursive\s+)?|,\s*)([A-Za-z_]\w*)\s+as\s+(?:not\s+)?(?:materialized\s+)?\(", re.I
)
_ALIAS_RE = re.compile(r"\bas\s+([A-Za-z_]\w*)", re.IGNORECASE)
_IDENT_RE = re.compile(r"(?<![\w.:])([A-Za-z_]\w*)(?:\.([A-Za-z_]\w*))?(?!\w)(\s*\()?")

# Words that are SQL, not column names (kept to what the specs use; a new word shows up as a test failure).
SQL_WORDS = frozenset(
    [
        "select",
        "from",
        "where",
        "and",
        "or",
        "not",
        "in",
        "is",
        "null",
        "as",
        "on",
        "join",
        "left",
        "right",
        "inner",
        "outer",
        "full",
        "cross",
        "with",
        "recursive",
        "group",
        "by",
        "order",
        "asc",
        "desc",
        "nulls",
        "first",
        "last",
        "limit",
        "offset",
        "having",
        "case",
        "when",
        "then",
        "else",
        "end",
        "distinct",
        "between",
        "like",
        "ilike",
        "true",
        "false",
        "interval",
        "date",
        "timestamp",
        "timestamptz",
        "numeric",
        "integer",
        "int",
        "bigint",
        "text",
        "float",
        "double",
        "precision",
        "over",
        "partition",
        "rows",
        "range",
        "preceding",
        "following",
        "current",
        "row",
        "unbounded",
        "filter",
        "within",
        "union",
        "all",
        "except",
        "intersect",
        "exists",
        "any",
        "some",
        "lateral",
        "values",
        "cast",
    ]
)

# Relations a card may reference besides reporting.*: set-returning functions used as tables.
ALLOWED_FUNCTION_TABLES = frozenset({"generate_series", "unnest"})


def strip_sql(sql: str) -> str:
    """SQL without comments, string literals and template tags (so they cannot look like identifiers)."""
    sql = _COMMENT_RE.sub(" ", sql)
    sql = _STRING_RE.sub("''", sql)
    sql = TAG_RE.sub(" null ", sql)
    return sql.replace("[[", " ").replace("]]", " ")


def cte_names(sql: str) -> set[str]:
    return {m.group(1).lower() for m in _CTE_RE.finditer(strip_sql(sql))}


def table_refs(sql: str) -> list[tuple[str, str | None]]:
    """(relation, alias) for every `from` / `join` target, CTE names included."""
    refs: list[tuple[str, str | None]] = []
    for match in _TABLE_REF_RE.finditer(strip_sql(sql)):
        alias = match.group(2)
        if alias and alias.lower() in SQL_WORDS:
            alias = None
        refs.append((match.group(1).lower(), alias.lower() if alias else None))
    return refs


def reporting_tables(sql: str) -> set[str]:
    """Reporting model names (without schema) the SQL reads."""
    return {rel.split(".", 1)[1] for rel, _ in table_refs(sql) if rel.startswith(READ_SCHEMA + ".")}


REPORTING_MODELS_DIR = SPECS_DIR.parent.parent / "dbt_project" / "models" / "reporting"
TENANT_ID_PATTERN = re.compile(r"^(?!__)[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")


def documented_tables(directory: Path = REPORTING_MODELS_DIR) -> dict[str, set[str]]:
    """Reporting model name -> its documented column names, from every yml under dbt_project/models/reporting."""
    models: dict[str, set[str]] = {}
    for path in sorted(directory.rglob("*.yml")):
        doc = yaml.safe_load(path.read_text()) or {}
        for model in doc.get("models") or []:
            models[model["name"]] = {c["name"].lower() for c in model.get("columns") or []}
    return models


def for_tenant(spec: DashboardSpec, tenant: str, tables: dict[str, set[str]] | None = None) -> DashboardSpec | None:
    """The dashboard one tenant may be shown: only the cards whose reporting tables all have a tenant_id (the tenant
    role reads nothing else), without a default tenant (its connection's row-level security shows that tenant's rows
    only). None when no card is left."""
    if not TENANT_ID_PATTERN.match(tenant):
        raise SpecError(f"{tenant!r} is not a tenant id (letters, digits, _.:@-; not a reserved __ id)")
    tables = documented_tables() if tables is None else tables
    with_tenant = {name for name, columns in tables.items() if "tenant_id" in columns}
    cards = [card for card in spec.cards if reporting_tables(card.sql) and reporting_tables(card.sql) <= with_tenant]
    if not cards:
        return None
    used = {tag for card in cards for tag in card.tags}
    parameters = [
        param.model_copy(update={"default": None}) if param.slug == "tenant" else param
        for param in spec.parameters
        if param.slug in used
    ]
    return spec.model_copy(update={"cards": cards, "parameters": parameters})


def sql_problems(sql: str) -> list[str]:
    """Rules every card's SQL follows: read only `reporting.*` (or its own CTEs), no statement separators, no DML."""
    problems: list[str] = []
    ctes = cte_names(sql)
    stripped = strip_sql(sql)
    if ";" in stripped:
        problems.append("SQL holds more than one statement")
    if re.search(r"\b(insert|update|delete|drop|alter|create|truncate|grant)\b", stripped, re.IGNORECASE):
        problems.append("SQL must be a read-only select")
    refs = table_refs(sql)
    if not any(rel.startswith(READ_SCHEMA + ".") for rel, _ in refs):
        problems.append("SQL reads no reporting table")
    for rel, _ in refs:
        if rel.startswith(READ_SCHEMA + ".") or rel in ctes or rel in ALLOWED_FUNCTION_TABLES:
            continue
        problems.append(f"SQL reads {rel!r}: cards may only read {READ_SCHEMA}.* tables")
    return problems


def field_filter_problems(sql: str, param: ParameterSpec) -> list[str]:
    """A field filter's tag is a whole condition on a query that reads its table unaliased."""
    assert param.field is not None
    problems = []
    before = re.compile(r"(=|<|>|\bin\s*\(|\blike|\bilike|,)\s*(\[\[)?\s*\{\{\s*" + param.slug + r"\s*\}\}", re.I)
    if before.search(_COMMENT_RE.sub(" ", sql)):
        tag = f"{{{{{param.slug}}}}}"
        problems.append(f"{tag} is a field filter: it stands for a whole condition (where {tag})")
    qualified = f"{READ_SCHEMA}.{param.field.table}"
    refs = table_refs(sql)
    if not any(rel == qualified and alias is None for rel, alias in refs):
        problems.append(
            f"{{{{{param.slug}}}}} filters on {qualified}.{param.field.column}: read {qualified} without an alias"
        )
    return problems


def output_aliases(sql: str) -> set[str]:
    """Names the SQL defines with `as` (output columns, table aliases); `order by` may use them."""
    return {m.lower() for m in _ALIAS_RE.findall(strip_sql(sql))}


def column_names(sql: str) -> set[str]:
    """Column-like identifiers in the SQL: every bare or qualified name that is not a keyword, a function call,
    a table, a table alias, a CTE or the name after an `as`. An identifier may still be an output alias used in
    `order by`; callers accept those via `output_aliases`. Used to check the specs against the marts' yml docs."""
    refs = table_refs(sql)
    stripped = _ALIAS_RE.sub(" ", strip_sql(sql))
    skip = set(SQL_WORDS) | cte_names(sql) | {a for _, a in refs if a}
    tables = {rel for rel, _ in refs}
    names: set[str] = set()
    for match in _IDENT_RE.finditer(stripped):
        first, second, call = match.group(1).lower(), match.group(2), match.group(3)
        if call:  # a function call
            continue
        if second:  # qualified: schema.table, alias.column or cte.column
            if f"{first}.{second.lower()}" not in tables:
                names.add(second.lower())
            continue
        if first in skip or first in tables or first == READ_SCHEMA:
            continue
        names.add(first)
    return names


# ------------------------------------------------------------------------------------------------ loading


def load_spec(path: Path) -> DashboardSpec:
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SpecError(f"{path.name}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise SpecError(f"{path.name}: a spec is a mapping with name, parameters and cards")
    try:
        return DashboardSpec.model_validate({"key": path.stem, **raw})
    except ValidationError as exc:
        raise SpecError(f"{path.name}: {exc}") from exc


def load_specs(directory: Path = SPECS_DIR, only: Iterable[str] | None = None) -> list[DashboardSpec]:
    """Every spec in the folder (sorted by file name); `only` keeps the ones whose key or name matches."""
    paths = sorted(directory.glob("*.yml"))
    if not paths:
        raise SpecError(f"no dashboard specs (*.yml) in {directory}")
    specs = [load_spec(p) for p in paths]
    names = [c.name for s in specs for c in s.cards]
    dups = sorted({n for n in names if names.count(n) > 1})
    if dups:
        # Cards are found by name in one collection, so a name must be unique across all dashboards.
        raise SpecError(f"card names used by more than one dashboard: {', '.join(dups)}")
    problems = click_problems(specs)
    if problems:
        raise SpecError("; ".join(problems))
    wanted = {w.lower() for w in only} if only else None
    if wanted is not None:
        unknown = wanted - {s.key.lower() for s in specs} - {s.name.lower() for s in specs}
        if unknown:
            raise SpecError(f"no dashboard spec named {', '.join(sorted(unknown))}")
        specs = [s for s in specs if s.key.lower() in wanted or s.name.lower() in wanted]
    return specs


def click_problems(specs: list[DashboardSpec]) -> list[str]:
    """A click opens a dashboard that exists and fills filters that dashboard has."""
    by_key = {s.key: s for s in specs}
    problems = []
    for spec in specs:
        for card in spec.cards:
            for click in card.click:
                target = by_key.get(click.dashboard)
                if target is None:
                    problems.append(f"{spec.key} / {card.name}: click opens {click.dashboard!r}, no such dashboard")
                    continue
                slugs = {p.slug for p in target.parameters}
                for slug, _, _ in click.sources():
                    if slug not in slugs:
                        problems.append(f"{spec.key} / {card.name}: {click.dashboard} has no filter {slug!r}")
    return problems
