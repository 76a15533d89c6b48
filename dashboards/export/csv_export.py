"""One CSV per reporting table (UTF-8, header), streamed with COPY ... TO STDOUT, filtered by window and tenant.

A table is filtered by date when it has a date column (see `MartCatalog.date_column`; a "month" column keeps every
month that overlaps the window, and a table with period_start and period_end keeps every period that overlaps it)
and by tenant when it has `tenant_id`. Bounds that are not given are not applied.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import psycopg
from psycopg import sql

from dashboards.export.catalog import TENANT_COLUMN, MartCatalog, is_month_column


def table_filter(
    catalog: MartCatalog, table: str, *, start: date | None, end: date | None, tenant: str | None
) -> sql.Composable:
    """The WHERE clause (or nothing) for one mart table."""
    conds: list[sql.Composable] = []
    date_col = catalog.date_column(table)
    if date_col == "period_start" and "period_end" in catalog.columns(table):
        if start is not None:
            conds.append(sql.SQL("period_end >= {}").format(sql.Literal(start)))
        if end is not None:
            conds.append(sql.SQL("period_start <= {}").format(sql.Literal(end)))
    elif date_col is not None:
        col = sql.SQL("{}::date").format(sql.Identifier(date_col))
        if start is not None:
            lower = start.replace(day=1) if is_month_column(date_col) else start
            conds.append(sql.SQL("{} >= {}").format(col, sql.Literal(lower)))
        if end is not None:
            conds.append(sql.SQL("{} <= {}").format(col, sql.Literal(end)))
    if tenant is not None and catalog.has_tenant(table):
        conds.append(sql.SQL("{} = {}").format(sql.Identifier(TENANT_COLUMN), sql.Literal(tenant)))
    if not conds:
        return sql.SQL("")
    return sql.SQL(" where ") + sql.SQL(" and ").join(conds)


def table_order(catalog: MartCatalog, table: str) -> sql.Composable:
    grain = "grain" if "grain" in catalog.columns(table) else None
    tenant = TENANT_COLUMN if catalog.has_tenant(table) else None
    keys = [c for c in (grain, catalog.date_column(table), tenant) if c]
    if not keys:
        return sql.SQL("")
    return sql.SQL(" order by ") + sql.SQL(", ").join(sql.Identifier(k) for k in keys)


def export_table_csv(
    conn: psycopg.Connection,
    catalog: MartCatalog,
    table: str,
    path: Path,
    *,
    start: date | None = None,
    end: date | None = None,
    tenant: str | None = None,
) -> int:
    """Stream one table to `path`; returns the number of rows written."""
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in catalog.columns(table))
    query = sql.SQL("select {cols} from {schema}.{table}{where}{order}").format(
        cols=columns,
        schema=sql.Identifier(catalog.schema),
        table=sql.Identifier(table),
        where=table_filter(catalog, table, start=start, end=end, tenant=tenant),
        order=table_order(catalog, table),
    )
    copy_stmt = sql.SQL("copy ({}) to stdout with (format csv, header true, encoding 'UTF8')").format(query)
    tmp = path.with_suffix(path.suffix + ".part")
    with conn.cursor() as cur, tmp.open("wb") as fh:
        with cur.copy(copy_stmt) as copy:
            for chunk in copy:
                fh.write(chunk)
        rows = cur.rowcount
    tmp.replace(path)
    return rows


def export_marts_csv(
    conn: psycopg.Connection,
    catalog: MartCatalog,
    out_dir: Path,
    *,
    start: date | None = None,
    end: date | None = None,
    tenant: str | None = None,
    timezone: str | None = None,
) -> tuple[list[Path], dict[str, str], dict[str, int]]:
    """Every table of the catalog's schema to `out_dir/<table>.csv`, in one read-only snapshot.

    Returns (files written, {table: error}, {table: rows written}) — a table whose query fails gets no file (no
    partial file either) and does not stop the others."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    errors: dict[str, str] = {}
    rows: dict[str, int] = {}
    own_transaction = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    with conn.transaction():
        if own_transaction:  # one consistent snapshot for all files
            conn.execute("set transaction isolation level repeatable read, read only")
        if timezone:  # timestamps rendered in the reporting timezone
            conn.execute("select set_config('TimeZone', %s, true)", (timezone,))
        for table in sorted(catalog.tables):
            path = out_dir / f"{table}.csv"
            try:
                with conn.transaction():
                    rows[table] = export_table_csv(conn, catalog, table, path, start=start, end=end, tenant=tenant)
            except psycopg.Error as exc:
                path.with_suffix(path.suffix + ".part").unlink(missing_ok=True)
                path.unlink(missing_ok=True)
                primary = exc.diag.message_primary if exc.diag and exc.diag.message_primary else str(exc)
                errors[table] = primary
                continue
            paths.append(path)
    return paths, errors, rows
