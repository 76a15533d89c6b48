"""What the `reporting` schema (the reporting layer, the one the exporter reads) holds right now: tables, their
columns and types, read from information_schema. The CSV export writes one file per table it lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import psycopg

from dashboards.reporting import ALL_TENANTS, READING_SCHEMA

# Tables of the schema that are plumbing, not numbers: the dbt semantic layer's day spine.
NOT_EXPORTED = frozenset({"metricflow_time_spine"})

DATE_TYPES = ("date", "timestamp without time zone", "timestamp with time zone")

# Columns that place a row in time, best first. A name with "month" in it holds the first day of a month.
DATE_COLUMN_PREFERENCE = (
    "period_start",
    "metric_date",
    "date",
    "day",
    "date_day",
    "month",
    "metric_month",
    "revenue_month",
    "movement_month",
    "period_start",
    "month_start",
    "alert_date",
    "movement_date",
    "cohort_month",
    "cohort_date",
    "cohort_week",
)

TENANT_COLUMN = "tenant_id"
__all__ = ["ALL_TENANTS", "TENANT_COLUMN", "MartCatalog", "is_month_column"]


@dataclass
class MartCatalog:
    """Tables (and views) of one schema with their columns in ordinal order: {table: {column: data_type}}."""

    schema: str = READING_SCHEMA
    tables: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, conn: psycopg.Connection, schema: str = READING_SCHEMA) -> MartCatalog:
        rows = conn.execute(
            """
            select c.table_name, c.column_name, c.data_type
            from information_schema.columns c
            join information_schema.tables t
              on t.table_schema = c.table_schema and t.table_name = c.table_name
            where c.table_schema = %s and t.table_type in ('BASE TABLE', 'VIEW')
            order by c.table_name, c.ordinal_position
            """,
            (schema,),
        ).fetchall()
        tables: dict[str, dict[str, str]] = {}
        for table, column, data_type in rows:
            if table not in NOT_EXPORTED:
                tables.setdefault(table, {})[column] = data_type
        return cls(schema, tables)

    def has_table(self, table: str) -> bool:
        return table in self.tables

    def columns(self, table: str) -> dict[str, str]:
        return self.tables.get(table, {})

    def has(self, table: str, *columns: str) -> bool:
        cols = self.columns(table)
        return bool(cols) and all(c in cols for c in columns)

    def first_present(self, table: str, candidates: Iterable[str]) -> str | None:
        cols = self.columns(table)
        return next((c for c in candidates if c in cols), None)

    def date_column(self, table: str) -> str | None:
        """The column that places a row in time: a preferred name of a date type, else the first date-typed column."""
        cols = self.columns(table)
        for name in DATE_COLUMN_PREFERENCE:
            if name in cols and cols[name] in DATE_TYPES:
                return name
        return next((name for name, typ in cols.items() if typ in DATE_TYPES), None)

    def has_tenant(self, table: str) -> bool:
        return TENANT_COLUMN in self.columns(table)

    def without_personal_data(self) -> MartCatalog:
        """The same catalog minus the columns that hold personal data (extract.access.is_personal_column): what the
        exporter reads unless INCLUDE_PERSONAL_DATA is set."""
        from extract.access import is_personal_column

        kept = {
            table: {name: typ for name, typ in cols.items() if not is_personal_column(name)}
            for table, cols in self.tables.items()
        }
        return MartCatalog(self.schema, {table: cols for table, cols in kept.items() if cols})

    def qualified(self, table: str) -> str:
        return f"{self.schema}.{table}"

    def missing_reason(self, table: str, columns: Sequence[str] = (), *, group: str | None = None) -> str | None:
        """None when the table has every column; otherwise a short reason fit for a reader."""
        if not self.has_table(table):
            what = f"{group} marts not built" if group else "mart not built"
            return f"{what} ({self.qualified(table)} missing)"
        missing = [c for c in columns if c not in self.columns(table)]
        if missing:
            return f"{self.qualified(table)} has no column {', '.join(missing)}"
        return None


def is_month_column(name: str) -> bool:
    return "month" in name
