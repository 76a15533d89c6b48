"""The weekly board pack by email: the pack for the week that ended last Sunday, PDF attached (HTML without Chromium).

The pack's window ends on the week's last day (its KPI tiles compare that day with a month earlier, its charts
cover the trailing twelve months); the mail's body lists the headline numbers and last week's alerts count.
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
from dashboards.delivery.transports import Attachment, send_email
from dashboards.export.board_pack import BoardPack


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


def send_board_pack(
    conn: psycopg.Connection,
    config: AlertsConfig,
    out_dir: Path,
    *,
    week_end: date,
    currency: str,
    timezone: str,
    now: datetime | None = None,
    run_id: str | None = None,
    log: Log = lambda message: None,
    sleep: Sleep = time.sleep,
) -> PackEmail:
    from dashboards.delivery import store
    from dashboards.export import export_all
    from dashboards.export.pdf import find_chromium

    if config.board_pack is None or config.smtp is None:
        raise ConfigError("the channels file has no board_pack section (recipients): nothing to send")
    pack_cfg, smtp = config.board_pack, config.smtp
    store.ensure_tables(conn)
    conn.commit()
    week_start = week_end - timedelta(days=6)
    out_dir.mkdir(parents=True, exist_ok=True)
    with_pdf = find_chromium() is not None
    result = export_all(
        conn, out_dir, end=week_end, tenant=pack_cfg.tenant, pdf=with_pdf, currency=currency, timezone=timezone, now=now
    )
    note = "" if with_pdf else "No Chromium on the sending host: the pack is attached as HTML (print it to PDF)."
    attachment_path = result.pdf if result.pdf is not None else result.html
    assert attachment_path is not None
    mime = "application/pdf" if result.pdf is not None else "text/html"
    headline = _headlines(result.pack)
    alerts = _alert_count(conn, week_start, week_end, pack_cfg.tenant)
    subject = f"[execmetrics] Board pack, week {week_start:%d %b} - {week_end:%d %b %Y}"
    lines = [
        f"The board pack for the week {week_start} to {week_end} ({pack_cfg.tenant or 'all tenants'}) is attached"
        f" ({'PDF' if mime == 'application/pdf' else 'HTML'}).",
        "KPI tiles show the week's last day against a month earlier; charts cover the trailing twelve months.",
        "",
        headline,
        f"Alerts raised during the week: {alerts if alerts is not None else 'n/a (no alerts mart)'}",
    ]
    if config.links.dashboard:
        lines += ["", f"Dashboards: {config.links.dashboard}"]
    if note:
        lines += ["", note]
    if result.unavailable:
        lines += ["", f"{len(result.unavailable)} figure(s) shown as n/a in the pack (reasons inside)."]
    plain = "\n".join(line for line in lines if line is not None).strip() + "\n"
    attachment = Attachment(f"board-pack-{week_end}{attachment_path.suffix}", attachment_path.read_bytes(), mime)
    outcome = send_with_retries(
        conn,
        lambda: send_email(smtp, pack_cfg.to, subject, plain, attachments=[attachment]),
        retry=config.retry,
        channel="board_pack",
        kind="board_pack",
        subject=f"board pack week ending {week_end} to {len(pack_cfg.to)} recipient(s)",
        delivery_id=None,
        run_id=run_id,
        log=log,
        sleep=sleep,
    )
    return PackEmail(week_start, week_end, list(pack_cfg.to), attachment_path, outcome, mime == "application/pdf", note)


def _alert_count(conn: psycopg.Connection, first: date, last: date, tenant: str | None) -> int | None:
    if conn.execute("select to_regclass('marts.fct_metric_alerts') is null").fetchone() == (True,):
        return None
    row = conn.execute(
        """select count(*) from marts.fct_metric_alerts
           where metric_date between %s and %s and (%s::text is null or tenant_id = %s::text)""",
        (first, last, tenant, tenant),
    ).fetchone()
    return int(row[0]) if row else 0


def _headlines(pack: BoardPack | None) -> str:
    """'MRR: $123,457 · ARR: ...' from the pack's headline KPIs (what the reader sees first)."""
    if pack is None:
        return ""
    found = [f"{tile.label}: {tile.display}" for tile in pack.headlines]
    return "Headline numbers at the week's end: " + " · ".join(found) if found else ""
