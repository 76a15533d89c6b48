"""What every reader of the reporting layer shares: its schema and how a tenant given by name or id is found."""

from __future__ import annotations

import psycopg

READING_SCHEMA = "reporting"
ALL_TENANTS = "__all__"
ALL_TENANTS_NAME = "All tenants"

_TENANT_SQL = """
select tenant_id, tenant_name
from reporting.rpt_tenants
where tenant_id = %(tenant)s or lower(tenant_name) = lower(%(tenant)s)
order by tenant_id = %(tenant)s desc
limit 1
"""


class UnknownTenant(ValueError):
    pass


def resolve_tenant(conn: psycopg.Connection, tenant: str | None) -> tuple[str, str]:
    """(tenant_id, tenant name) of a tenant given by id or name (rpt_tenants); None is all tenants."""
    if tenant in (None, ALL_TENANTS, ALL_TENANTS_NAME):
        return ALL_TENANTS, ALL_TENANTS_NAME
    row = conn.execute(_TENANT_SQL, {"tenant": tenant}).fetchone()
    if row is None:
        raise UnknownTenant(f"no tenant with the id or name {tenant!r} (reporting.rpt_tenants)")
    return str(row[0]), str(row[1])
