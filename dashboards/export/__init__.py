"""The exporter: what leadership reads, from the reporting layer only (schema `reporting`, as the dashboards).

`export_all(conn, out_dir)` writes
- `out_dir/csv/<table>.csv`: every table of schema `reporting` (COPY, UTF-8, header), filtered by the given window
  (only the bounds given) and tenant (by name or id; only tables with `tenant_id`);
- `out_dir/board_pack.html`: the self-contained board pack: the dashboards' cards run with the pack's filters
  (window defaults to the 12 months ending at the latest loaded day);
- `out_dir/board_pack.pdf`: the same pack printed by headless Chromium, A4 landscape, one section per page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from dashboards.export.board_pack import PAGE_COUNT, BoardPack, Window, build_board_pack, latest_day, render_html
from dashboards.export.catalog import MartCatalog
from dashboards.export.csv_export import export_marts_csv
from dashboards.export.pdf import PdfError, print_pdf
from dashboards.reporting import UnknownTenant, resolve_tenant

__all__ = ["PAGE_COUNT", "ExportResult", "PdfError", "UnknownTenant", "export_all", "resolve_window"]


def add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    return date(d.year + y, m + 1, 1) if d.day == 1 else date(d.year + y, m + 1, min(d.day, 28))


def resolve_window(conn: psycopg.Connection, start: date | None, end: date | None, *, today: date) -> Window:
    """Missing bounds: end = the latest loaded day (or today); start = the first day of the month 11 months before."""
    if end is None:
        end = latest_day(conn) or today
    if start is None:
        start = add_months(end.replace(day=1), -11)
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    return Window(start, end)


@dataclass
class ExportResult:
    out_dir: Path
    window: Window
    tenant: str | None
    csv_files: list[Path] = field(default_factory=list)
    html: Path | None = None
    pdf: Path | None = None
    unavailable: list[tuple[str, str]] = field(default_factory=list)  # (metric or section, reason) shown as n/a
    csv_errors: dict[str, str] = field(default_factory=dict)  # mart table -> why its CSV could not be written
    pdf_skipped: str | None = None  # why no PDF was printed and how to get one (no Chromium here)
    csv_rows: dict[str, int] = field(default_factory=dict)  # mart table -> rows written
    pack: BoardPack | None = None  # what the HTML and PDF show (the weekly email quotes its headlines)

    @property
    def paths(self) -> list[Path]:
        return [*self.csv_files, *(p for p in (self.html, self.pdf) if p is not None)]

    def __str__(self) -> str:
        lines = [
            f"export {self.window.start} → {self.window.end}, {self.tenant or 'all tenants'} → {self.out_dir}",
            f"  CSV:  {len(self.csv_files)} reporting tables in {self.out_dir / 'csv'}",
        ]
        lines += [f"  CSV failed: {table}: {error}" for table, error in self.csv_errors.items()]
        lines.append(f"  HTML: {self.html or 'not written'}")
        lines.append(f"  PDF:  {self.pdf or self.pdf_skipped or 'not requested'}")
        if self.unavailable:
            lines.append(f"  shown as n/a ({len(self.unavailable)}):")
            lines += [f"    {what}: {why}" for what, why in self.unavailable]
        return "\n".join(lines)

    def __rich__(self) -> str:
        from rich.markup import escape

        return escape(str(self))


def export_all(
    conn: psycopg.Connection,
    out_dir: Path,
    *,
    start: date | None = None,
    end: date | None = None,
    tenant: str | None = None,
    pdf: bool = True,
    currency: str | None = None,
    timezone: str | None = None,
    now: datetime | None = None,
    personal_data: bool | None = None,
) -> ExportResult:
    """Write CSVs, the HTML board pack and (unless pdf=False) its PDF. Raises PdfError when no PDF can be made
    (after the CSVs and the HTML are written). Currency, timezone and whether personal data (columns such as an
    email) may leave the warehouse default to the settings (INCLUDE_PERSONAL_DATA: off)."""
    if currency is None or timezone is None or personal_data is None:
        from extract.settings import get_settings

        settings = get_settings()
        currency = currency or settings.reporting_currency
        timezone = timezone or settings.reporting_timezone
        personal_data = settings.include_personal_data if personal_data is None else personal_data
    if start is not None and end is not None and start > end:
        raise ValueError(f"start {start} is after end {end}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    catalog = MartCatalog.load(conn)
    if not personal_data:
        catalog = catalog.without_personal_data()
    tenant_id, tenant_name = (None, None)
    if tenant is not None and catalog.has_table("rpt_tenants"):
        tenant_id, tenant_name = resolve_tenant(conn, tenant)
    elif tenant is not None:
        tenant_id, tenant_name = tenant, tenant
    today = (now or datetime.now(ZoneInfo("UTC"))).astimezone(ZoneInfo(timezone)).date()
    window = resolve_window(conn, start, end, today=today)
    result = ExportResult(out_dir, window, tenant_name)

    result.csv_files, result.csv_errors, result.csv_rows = export_marts_csv(
        conn, catalog, out_dir / "csv", start=start, end=end, tenant=tenant_id, timezone=timezone
    )

    pack: BoardPack = build_board_pack(conn, window, tenant=tenant_name, currency=currency, timezone=timezone, now=now)
    result.pack = pack
    result.unavailable = pack.unavailable()
    html_path = out_dir / "board_pack.html"
    html_path.write_text(render_html(pack), encoding="utf-8")
    result.html = html_path

    if pdf:
        result.pdf = print_pdf(html_path, out_dir / "board_pack.pdf")
    return result
