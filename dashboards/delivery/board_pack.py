"""The weekly board pack by email: the pack for the week that ended last Sunday, PDF attached (HTML without Chromium).

The pack is what `execmetrics export` writes (orchestration.cli.run_export: the reporting layer, as the reader role,
audited), its window ending on the week's last day (its KPI tiles compare that day with a month earlier, its charts
cover the trailing twelve months); the mail's body lists the headline numbers and the week's alerts count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from dashboards.delivery.config import AlertsConfig, ConfigError
from dashboards.delivery.deliver import Log, Outcome, Sleep, send_with_retries
from dashboards.delivery.messages import dashboards_link
from dashboards.delivery.transports import Attachment, send_email
from dashboards.export import ExportResult
from dashboards.export.board_pack import BoardPack
from extract.warehouse import Warehouse


@dataclass
class PackEmail:
    week_start: date
    week_end: date
    recipients: list[str]
    attachment: Path
    outcome: Outcome
    pdf: bool
    note: str = ""


def last_full_week(now: datetime, timezone: str) -> tuple[date, date]:
    """(Monday, Sunday) of the last complete week before `now` in the reporting timezone."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    monday_this_week = today - timedelta(days=today.weekday())
    return monday_this_week - timedelta(days=7), monday_this_week - timedelta(days=1)


def email_board_pack(
    recorder: Warehouse,
    config: AlertsConfig,
    export: ExportResult,
    *,
    week_end: date,
    run_id: str | None = None,
    log: Log = lambda message: None,
    sleep: Sleep = time.sleep,
) -> PackEmail:
    """Email the pack `export` wrote (orchestration.cli.run_export, as the reader role) to the board_pack list: the
    PDF, or the HTML when it was printed without Chromium. `recorder` (the reader role) reads the week's alerts and
    writes each try to the audit log."""
    if config.board_pack is None or config.smtp is None:
        raise ConfigError("the channels file has no board_pack section (recipients): nothing to send")
    pack_cfg, smtp = config.board_pack, config.smtp
    week_start = week_end - timedelta(days=6)
    attachment_path = export.pdf if export.pdf is not None else export.html
    if attachment_path is None:
        raise ConfigError(f"the export in {export.out_dir} wrote no board pack")
    is_pdf = export.pdf is not None
    note = "" if is_pdf else "No Chromium on the sending host to print the PDF: the pack is attached as HTML."
    with recorder.connect() as conn:
        alerts = _alert_count(conn, week_start, week_end, pack_cfg.tenant)
    subject = f"[execmetrics] Board pack, week {week_start:%d %b} - {week_end:%d %b %Y}"
    lines = [
        f"The board pack for the week {week_start} to {week_end} ({export.tenant or 'all tenants'}) is attached"
        f" ({'PDF' if is_pdf else 'HTML'}).",
        "KPI tiles show the week's last day against a month earlier; charts cover the trailing twelve months.",
        "",
        _headlines(export.pack),
        f"Alerts raised during the week: {alerts if alerts is not None else 'n/a (no alerts table yet)'}",
    ]
    if dashboards_link(config.links.dashboard):
        lines += ["", f"Dashboards: {dashboards_link(config.links.dashboard)}"]
    if note:
        lines += ["", note]
    if export.unavailable:
        lines += ["", f"{len(export.unavailable)} figure(s) shown as n/a in the pack (reasons inside)."]
    plain = "\n".join(lines).strip() + "\n"
    mime = "application/pdf" if is_pdf else "text/html"
    attachment = Attachment(f"board-pack-{week_end}{attachment_path.suffix}", attachment_path.read_bytes(), mime)
    outcome = send_with_retries(
        recorder,
        lambda: send_email(smtp, pack_cfg.to, subject, plain, attachments=[attachment]),
        retry=config.retry,
        channel="board_pack",
        kind="board_pack",
        subject=f"board pack week ending {week_end} to {len(pack_cfg.to)} recipient(s)",
        delivery_id=None,
        run_id=run_id,
        log=log,
        sleep=sleep,
        about={"week_start": week_start, "week_end": week_end, "attachment": attachment.filename},
    )
    return PackEmail(week_start, week_end, list(pack_cfg.to), attachment_path, outcome, is_pdf, note)


def _alert_count(conn: psycopg.Connection, first: date, last: date, tenant: str | None) -> int | None:
    """Alerts of the week (reporting.rpt_alerts), of `tenant` (an id or a name) when the pack is one tenant's."""
    if conn.execute("select to_regclass('reporting.rpt_alerts') is null").fetchone() == (True,):
        return None
    row = conn.execute(
        """select count(*) from reporting.rpt_alerts
           where metric_date between %s and %s
             and (%s::text is null or tenant_id = %s::text or tenant_name = %s::text)""",
        (first, last, tenant, tenant, tenant),
    ).fetchone()
    return int(row[0]) if row else 0


def _headlines(pack: BoardPack | None) -> str:
    """'MRR: $123,457 · ARR: ...' from the pack's headline KPIs (what the reader sees first)."""
    if pack is None:
        return ""
    found = [f"{tile.label}: {tile.display}" for tile in pack.headlines]
    return "Headline numbers at the week's end: " + " · ".join(found) if found else ""
