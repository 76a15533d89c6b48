"""What the access tests share: the fixture's dates, the granted warehouse handle, and a catalog walker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg

from extract.warehouse import Target, Warehouse

FIRST_DAY = date(2025, 11, 1)
LAST_DAY = date(2025, 11, 7)
TENANTS = 3


@dataclass
class Granted:
    warehouse: Warehouse  # the admin connection
    target: Target
    root: Path
    env: dict[str, str]
    prefix: str

    def role(self, part: str) -> Warehouse:
        return self.warehouse.as_role(part)

    def role_name(self, part: str) -> str:
        return f"{self.prefix}_{part}"

    def tenant_conninfo(self, tenant: str | None) -> str:
        tenant_wh = self.role("tenant")
        options = {} if tenant is None else {"options": f"-c execmetrics.tenant_id={tenant}"}
        return psycopg.conninfo.make_conninfo(tenant_wh.target.conninfo, **options)


def catalog(conn: psycopg.Connection, schema: str) -> dict[str, set[str]]:
    """Every table and view of a schema with its columns, as the admin sees them (the catalog, not a list)."""
    rows = conn.execute(
        """select c.relname, a.attname from pg_class c
           join pg_namespace n on n.oid = c.relnamespace
           join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
           where n.nspname = %s and c.relkind in ('r', 'p', 'v', 'm')""",
        (schema,),
    ).fetchall()
    tables: dict[str, set[str]] = {}
    for table, column in rows:
        tables.setdefault(table, set()).add(column)
    return tables
