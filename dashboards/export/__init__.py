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
from extract.settings import Settings

__all__ = [
    "PAGE_COUNT",
    "ExportResult",
    "PdfError",
    "UnknownTenant",
    "export_all",
    "pdf_missing_note",
    "resolve_window",
    "run_export",
]


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
    currency: str = "USD",
    timezone: str = "UTC",
    now: datetime | None = None,
    personal_data: bool = False,
) -> ExportResult:
    """Write CSVs, the HTML board pack and (unless pdf=False) its PDF. Raises PdfError when no PDF can be made
    (after the CSVs and the HTML are written). The caller hands over the reporting currency and timezone and
    whether personal data (columns such as an email) may leave the warehouse (`run_export` takes them from the
    settings: REPORTING_CURRENCY, REPORTING_TIMEZONE, INCLUDE_PERSONAL_DATA)."""
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


def pdf_missing_note() -> str | None:
    """None when a Chromium is there to print the PDF; else why the PDF is skipped and how to get it."""
    import os

    from dashboards.export.pdf import find_chromium

    if find_chromium() is not None:
        return None
    chosen = os.environ.get("CHROMIUM_PATH")
    why = f"CHROMIUM_PATH={chosen} does not exist" if chosen else "no Chromium on PATH"
    return (
        f"skipped ({why}): install the Debian package `chromium` (as root: `make system-deps`) or set"
        " CHROMIUM_PATH, then run `execmetrics export`"
    )


def run_export(
    settings: Settings, start: date | None, end: date | None, tenant: str | None, target: Path, pdf: bool | None
) -> ExportResult:
    """Export as the reader role: CSV + HTML, and the PDF when asked (pdf=True: required) or possible (pdf=None: else
    `pdf_skipped` says why); written to the audit log (what, where, rows per mart, how it ended)."""
    from extract import audit
    from extract.warehouse import Warehouse

    note = pdf_missing_note() if pdf is None else None
    reader = Warehouse(settings).as_role("reader")
    parameters = {
        "start": start,
        "end": end,
        "tenant": tenant,
        "pdf": bool(pdf or note is None),
        "personal_data": settings.include_personal_data,
    }
    with audit.recorded(reader, audit.EXPORT, target=str(target), parameters=parameters) as event:
        with reader.connect() as conn:
            result = export_all(
                conn,
                target,
                start=start,
                end=end,
                tenant=tenant,
                pdf=bool(pdf or note is None),
                currency=settings.reporting_currency,
                timezone=settings.reporting_timezone,
                personal_data=settings.include_personal_data,
            )
        event.row_counts = dict(result.csv_rows)
        event.parameters.update(window=f"{result.window.start}..{result.window.end}", files=len(result.paths))
        if result.csv_errors:
            event.parameters["csv_errors"] = result.csv_errors
    result.pdf_skipped = note
    return result
