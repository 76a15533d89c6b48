"""The exporter reads the reporting layer only: CSV per reporting table filtered by window and tenant, and the board
pack whose tiles are the dashboards' cards, equal to the reporting tables. On the shared demo-sized warehouse, plus
an empty database and a broken table for the honest n/a."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
from datetime import UTC, date, datetime
from html import unescape
from pathlib import Path

import psycopg
import pytest

from dashboards.export import PAGE_COUNT, UnknownTenant, export_all
from dashboards.export.formatting import fmt_count, fmt_delta, fmt_money, fmt_pct
from extract.warehouse import Target

NOW = datetime(2026, 11, 2, 7, 30, tzinfo=UTC)
CHROMIUM = shutil.which("chromium")


@pytest.fixture(scope="module")
def demo_conn(demo_warehouse):
    with demo_warehouse.connect() as c:
        yield c


@pytest.fixture
def conn(pg_target: Target):
    with psycopg.connect(pg_target.conninfo, autocommit=True) as c:
        yield c


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def tiles(html: str) -> dict[str, str]:
    """KPI (the card's field) -> the tile's visible text (tags stripped, whitespace collapsed)."""
    out = {}
    for m in re.finditer(r'<div class="tile[^"]*" data-kpi="([a-z_0-9]+)"(.*?)<div class="def">', html, re.S):
        text = re.sub(r"<[^>]+>", " ", m.group(2).split(">", 1)[1])
        out[m.group(1)] = re.sub(r"\s+", " ", unescape(text)).strip()
    return out


def export(conn: psycopg.Connection, tmp_path: Path, **kw):
    kw.setdefault("pdf", False)
    kw.setdefault("currency", "USD")
    kw.setdefault("timezone", "UTC")
    return export_all(conn, tmp_path / "out", now=NOW, **kw)


TOP_TENANT = (
    "select tenant_id, tenant_name from reporting.rpt_tenants where is_paying and not is_all_tenants"
    " order by current_mrr desc limit 1"
)


def one(conn: psycopg.Connection, sql: str, *params):
    cur = conn.execute(sql, params)
    names = [d.name for d in cur.description]
    return dict(zip(names, cur.fetchone(), strict=True))


# ------------------------------------------------------------------------------------------------ CSV


@pytest.mark.slow
def test_csv_is_every_reporting_table_of_the_window_and_tenant(demo_conn, demo_warehouse, tmp_path):
    end = demo_warehouse.end
    start = end.replace(day=1)
    tenant = one(demo_conn, TOP_TENANT)
    result = export(demo_conn, tmp_path, start=start, end=end, tenant=tenant["tenant_name"])
    assert result.csv_errors == {} and result.tenant == tenant["tenant_name"]
    tables = {
        r[0]
        for r in demo_conn.execute("select table_name from information_schema.tables where table_schema = 'reporting'")
    }
    assert {p.stem for p in result.csv_files} == tables - {"metricflow_time_spine"}
    csv_dir = tmp_path / "out" / "csv"
    periods = read_csv(csv_dir / "rpt_kpi_periods.csv")
    # the tenant's days, weeks and month of the window (a week overlapping the window's first day included)
    assert {r["tenant_id"] for r in periods} == {tenant["tenant_id"]}
    assert {r["grain"] for r in periods} == {"day", "week", "month"}
    days = [r for r in periods if r["grain"] == "day"]
    assert len(days) == (end - start).days + 1
    assert all(r["period_end"] >= start.isoformat() and r["period_start"] <= end.isoformat() for r in periods)
    monthly = read_csv(csv_dir / "rpt_revenue_monthly.csv")
    assert [(r["month"], r["tenant_name"]) for r in monthly] == [(start.isoformat(), tenant["tenant_name"])]
    for path in result.csv_files:  # names, never contact details
        header = path.read_text(encoding="utf-8").splitlines()[0]
        assert "email" not in header, path.name


def test_an_unknown_tenant_is_an_error(demo_conn, tmp_path):
    with pytest.raises(UnknownTenant, match="Nobody Inc"):
        export(demo_conn, tmp_path, tenant="Nobody Inc")


# ------------------------------------------------------------------------------------------------ board pack


@pytest.mark.slow
def test_board_pack_tiles_equal_the_reporting_tables(demo_conn, demo_warehouse, tmp_path):
    result = export(demo_conn, tmp_path)
    end = demo_warehouse.end
    assert (result.window.start, result.window.end) == (
        date(end.year - 1, end.month + 1, 1) if end.month < 12 else date(end.year, 1, 1),
        end,
    )
    html = result.html.read_text(encoding="utf-8")
    t = tiles(html)
    month = one(
        demo_conn,
        "select * from reporting.rpt_kpi_periods where grain = 'month' and tenant_id = '__all__'"
        " order by period_start desc limit 1",
    )
    latest_mrr = demo_conn.execute(
        "select sum(mrr) from marts.fct_mrr_daily where day = (select max(day) from marts.fct_mrr_daily)"
    ).fetchone()[0]
    assert month["mrr"] == latest_mrr  # the executive MRR tile is the ledger's latest day
    label = month["period_start"].strftime("%b %Y")
    assert t["mrr"].startswith(f"MRR {label} {fmt_money(float(month['mrr']), 'USD')}")
    assert f"{fmt_delta('money', float(month['mrr']), float(month['mrr_previous']))} vs previous period" in t["mrr"]
    assert fmt_money(float(month["arr"]), "USD") in t["arr"]
    assert f" {fmt_count(month['paying_customers'])} " in f" {t['paying_customers']} "
    assert fmt_pct(float(month["nrr_mtd"])) in t["nrr_mtd"]
    assert (
        fmt_count(float(month["dau"])) in t["dau"]
        and fmt_pct(float(month["job_success_rate"])) in t["job_success_rate"]
    )
    closed = one(
        demo_conn,
        "select * from reporting.rpt_revenue_monthly where tenant_id = '__all__' and month_end <= %s"
        " order by month desc limit 1",
        end,
    )
    assert f" {closed['new_paying_customers']} " in f" {t['new_paying_customers']} "
    assert f" {closed['paying_customers_lost']} " in f" {t['paying_customers_lost']} "
    assert fmt_money(float(closed["cac"]), "USD") in t["cac"]
    # every tile has its card's description as its definition, and the charts are inline SVG (Vega-Altair)
    assert html.count('<div class="def">') == 24
    assert html.count('<svg class="chart"') == 8
    assert "<script" not in html and "http://" not in re.sub(r'xmlns(:xlink)?="http://www.w3.org/[^"]*"', "", html)
    # names, not ids, in the tables
    assert "ten_" not in re.sub(r"<svg.*?</svg>", "", html, flags=re.S)


@pytest.mark.slow
def test_a_tenant_pack_shows_that_tenants_numbers(demo_conn, tmp_path):
    tenant = one(demo_conn, TOP_TENANT)
    html = export(demo_conn, tmp_path, tenant=tenant["tenant_id"]).html.read_text(encoding="utf-8")
    month = one(
        demo_conn,
        "select mrr from reporting.rpt_kpi_periods where grain = 'month' and tenant_id = %s"
        " order by period_start desc limit 1",
        tenant["tenant_id"],
    )
    assert fmt_money(float(month["mrr"]), "USD") in tiles(html)["mrr"]
    assert f"<h1>{tenant['tenant_name']}</h1>" in html


def test_without_the_reporting_layer_every_number_is_na_with_its_reason(conn, tmp_path):
    result = export(conn, tmp_path, start=date(2024, 1, 1), end=date(2024, 3, 31))
    assert result.csv_files == []
    t = tiles(result.html.read_text(encoding="utf-8"))
    assert len(t) == 24
    for key, text in t.items():
        assert " n/a — reporting layer not built" in text, (key, text)
        assert not re.search(r"(?<![\d,.])(\$0|0\.0%)(?![\d,.])", text), (key, text)


def test_a_failing_table_is_reported_and_the_rest_still_renders(conn, tmp_path):
    conn.execute("create schema reporting")
    conn.execute("create table reporting.rpt_tenants (tenant_id text, tenant_name text, reporting_currency text)")
    conn.execute("insert into reporting.rpt_tenants values ('__all__', 'All tenants', 'USD')")
    conn.execute(
        "create view reporting.rpt_kpi_periods as select 'month'::text as grain, date '2024-03-01' as period_start,"
        " date '2024-03-31' as period_end, date '2024-03-31' as as_of_date, '__all__'::text as tenant_id,"
        " (1 / (random() * 0)::int)::numeric as mrr, 0::numeric as mrr_previous, 0::numeric as mrr_last_year"
    )
    result = export(conn, tmp_path, end=date(2024, 3, 31))
    t = tiles(result.html.read_text(encoding="utf-8"))
    assert "n/a — query failed: division by zero" in t["mrr"]
    assert result.csv_errors == {"rpt_kpi_periods": "division by zero"}
    assert [p.name for p in result.csv_files] == ["rpt_tenants.csv"]
    assert conn.execute("select 1").fetchone() == (1,)


# ------------------------------------------------------------------------------------------------ PDF


def pdf_pages(path: Path) -> tuple[int, str]:
    if shutil.which("pdfinfo"):
        out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
        pages = int(re.search(r"Pages:\s+(\d+)", out).group(1))
        size = re.search(r"Page size:\s+(.*)", out).group(1)
        return pages, size
    data = path.read_bytes()
    return len(re.findall(rb"/Type\s*/Page[^s]", data)), ""


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (apt-get install chromium)")
def test_pdf_is_a4_landscape_one_page_per_section(demo_conn, tmp_path):
    result = export(demo_conn, tmp_path, pdf=True)
    assert result.pdf is not None and result.pdf.read_bytes()[:5] == b"%PDF-"
    pages, size = pdf_pages(result.pdf)
    assert pages == PAGE_COUNT == 7
    if size:
        assert size.startswith("841.") and "x 594." in size and "A4" in size


# ------------------------------------------------------------------------------------------------ the command


def _export_command(target: Target, tmp_path: Path, monkeypatch, *args: str) -> tuple[int, list[str]]:  # noqa: ANN001
    from typer.testing import CliRunner

    from orchestration.cli import app

    monkeypatch.setenv("WAREHOUSE_URL", target.url.replace("+psycopg", ""))
    monkeypatch.setenv("CHROMIUM_PATH", str(tmp_path / "no-chromium-here"))
    result = CliRunner().invoke(app, ["export", "--out", str(tmp_path / "out"), *args], prog_name="execmetrics")
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    return result.exit_code, lines


def test_export_without_chromium_writes_csv_and_html_and_says_the_pdf_was_skipped(
    demo_warehouse, tmp_path: Path, monkeypatch
) -> None:  # noqa: ANN001
    end = demo_warehouse.end.isoformat()
    code, lines = _export_command(demo_warehouse.target, tmp_path, monkeypatch, "--end", end)
    assert code == 0, lines
    assert (tmp_path / "out" / "board_pack.html").exists() and (tmp_path / "out" / "csv").is_dir()
    assert not (tmp_path / "out" / "board_pack.pdf").exists()
    skipped = [line for line in lines if "PDF" in line and "skipped" in line]
    assert len(skipped) == 1 and "CHROMIUM_PATH" in skipped[0] and "chromium" in skipped[0], lines
    assert not any(line.startswith("error:") or "Traceback" in line for line in lines), lines

    # asked for explicitly, the PDF is required: one error line, CSV and HTML still written
    code, lines = _export_command(demo_warehouse.target, tmp_path, monkeypatch, "--end", end, "--pdf")
    errors = [line for line in lines if line.startswith("error:")]
    assert code == 1 and len(errors) == 1 and "no Chromium found" in errors[0], lines
    assert not any("Traceback" in line for line in lines), lines
