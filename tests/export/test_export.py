"""The exporter against a real Postgres with small hand-made marts: CSV filters, formatted KPIs, honest n/a, PDF."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from html import unescape
from pathlib import Path

import marts_data
import psycopg
import pytest

from dashboards.export import PAGE_COUNT, export_all
from extract.warehouse import Target

NOW = datetime(2024, 4, 2, 7, 30, tzinfo=UTC)
CHROMIUM = shutil.which("chromium")


@pytest.fixture
def conn(pg_target: Target):
    with psycopg.connect(pg_target.conninfo, autocommit=True) as c:
        yield c


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def tiles(html: str) -> dict[str, str]:
    """KPI key -> the tile's visible text (tags stripped, whitespace collapsed)."""
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


# ------------------------------------------------------------------------------------------------ CSV


def test_csv_has_exactly_the_rows_of_the_window_and_tenant(conn, tmp_path):
    marts_data.create_all(conn)
    start, end = date(2024, 2, 10), date(2024, 3, 5)
    result = export(conn, tmp_path, start=start, end=end, tenant="t1")

    names = sorted(p.name for p in result.csv_files)
    assert names == [
        "dim_plans.csv",
        "fct_cohort_retention.csv",
        "fct_daily_metrics.csv",
        "fct_finance_monthly.csv",
        "fct_metric_alerts.csv",
        "fct_mrr_movements.csv",
        "fct_revenue_monthly.csv",
    ]
    csv_dir = tmp_path / "out" / "csv"

    daily = read_csv(csv_dir / "fct_daily_metrics.csv")
    expected_days = [start + timedelta(n) for n in range((end - start).days + 1)]
    assert [(r["metric_date"], r["tenant_id"]) for r in daily] == [(d.isoformat(), "t1") for d in expected_days]
    assert list(daily[0]) == [
        "metric_date", "tenant_id", "is_all_tenants", "dau", "wau", "mau", "dau_mau_ratio", "signups",
        "activated_users", "activation_rate", "activation_window_complete", "jobs_success_rate", "api_p95_latency_ms",
    ]  # fmt: skip
    db = conn.execute(
        "select dau from marts.fct_daily_metrics where tenant_id = 't1' and metric_date between %s and %s"
        " order by metric_date",
        (start, end),
    ).fetchall()
    assert [int(r["dau"]) for r in daily] == [r[0] for r in db]

    # Monthly marts keep every month overlapping the window (Feb, Mar); only t1.
    revenue = read_csv(csv_dir / "fct_revenue_monthly.csv")
    assert [(r["month"], r["tenant_id"]) for r in revenue] == [("2024-02-01", "t1"), ("2024-03-01", "t1")]
    movements = read_csv(csv_dir / "fct_mrr_movements.csv")
    assert len(movements) == 10 and {r["tenant_id"] for r in movements} == {"t1"}
    assert {r["month"] for r in movements} == {"2024-02-01", "2024-03-01"}
    # The cohort mart has no tenant_id: filtered by cohort month only (Feb and Mar cohorts, 2 types x 11 periods).
    cohorts = read_csv(csv_dir / "fct_cohort_retention.csv")
    assert len(cohorts) == 44 and {r["cohort_month"] for r in cohorts} == {"2024-02-01", "2024-03-01"}
    # Company-wide finance rows are not t1's; the alerts of t1 are outside the window: header only.
    assert read_csv(csv_dir / "fct_finance_monthly.csv") == []
    assert (csv_dir / "fct_metric_alerts.csv").read_text(encoding="utf-8").splitlines() == [
        "metric_date,tenant_id,metric,rule,rule_id,severity,metric_value,expected_value,z_score,message"
    ]
    # No date, no tenant: exported whole, UTF-8, quoted as CSV requires.
    plans = read_csv(csv_dir / "dim_plans.csv")
    assert [r["plan_name"] for r in plans] == ["Équipe — Café", 'Growth, "quoted"']


def test_csv_without_filters_exports_every_row(conn, tmp_path):
    marts_data.create_all(conn)
    result = export(conn, tmp_path)
    by_name = {p.name: p for p in result.csv_files}
    assert len(read_csv(by_name["fct_daily_metrics.csv"])) == len(marts_data.days()) * len(marts_data.TENANTS)
    assert len(read_csv(by_name["fct_metric_alerts.csv"])) == 4
    assert len(read_csv(by_name["fct_revenue_monthly.csv"])) == 9


def test_empty_warehouse_exports_no_csv_and_an_all_na_pack(conn, tmp_path):
    result = export(conn, tmp_path, start=date(2024, 1, 1), end=date(2024, 3, 31))
    assert result.csv_files == []
    html = result.html.read_text(encoding="utf-8")
    t = tiles(html)
    assert len(t) == 16
    assert all(" n/a — " in text for text in t.values()), t
    assert "product marts not built (marts.fct_daily_metrics missing)" in t["dau"]


# ------------------------------------------------------------------------------------------------ HTML


def test_html_kpis_are_formatted_for_executives(conn, tmp_path):
    marts_data.create_all(conn, currency="EUR")
    result = export(conn, tmp_path)
    assert (result.window.start, result.window.end) == (date(2023, 4, 1), date(2024, 3, 31))
    html = result.html.read_text(encoding="utf-8")
    t = tiles(html)
    assert len(t) == 16

    # Revenue (monthly, March 2024 vs February), currency from the mart's own column.
    assert t["mrr"].startswith("MRR Mar 2024 €123,457 +23.5% vs prior month")
    assert "€1,481,481" in t["arr"]
    assert "n/a — not defined for Mar 2024 (NULL in marts.fct_revenue_monthly.nrr)" in t["nrr"]
    assert "95.3%" in t["grr"] and "−0.2 pp" in t["grr"]
    assert "1,379" in t["paying_customers"]
    assert "€89.50" in t["arpa"]
    assert "2.1%" in t["customer_churn_rate"] and "−0.4 pp" in t["customer_churn_rate"]
    assert "3.46×" in t["quick_ratio"] and "+19.2%" in t["quick_ratio"]
    assert "Mar 2024 12.9 months −1.3 months vs prior month" in t["runway"]
    # Product (daily, 31 Mar 2024 vs 29 Feb 2024).
    assert t["dau"].startswith("DAU 31 Mar 2024 1,234 +23.4% vs prior month")
    assert "2,345" in t["wau"] and "5,000" in t["mau"]
    assert "24.7%" in t["dau_mau"] and "+4.7 pp" in t["dau_mau"]
    assert "25 Mar 2024" in t["activation_rate"] and "41.3%" in t["activation_rate"]
    assert "98.7%" in t["job_success_rate"] and "−0.3 pp" in t["job_success_rate"]
    assert "412 ms" in t["api_p95"]
    # Every tile carries its definition, visible and as a tooltip.
    assert html.count('<div class="def">') == 16
    assert 'title="MRR: Monthly recurring revenue at month end' in html
    # Cover, charts and tables.
    assert "1 Apr 2023 – 31 Mar 2024" in html
    assert "Generated</dt><dd>2024-04-02 07:30 UTC" in html
    assert "Revenue policy</dt><dd>stripe" in html
    assert html.count('<svg class="chart"') == 4  # MRR, DAU/MAU, movements, cohorts
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "4 most recent of 4 alerts in the window" in html
    # Newest first; on the same day the more severe first.
    assert html.index("DAU 18.5% below") < html.index("5xx rate above 1%") < html.index("API p95 latency more")
    assert 'class="sev-critical">critical' in html
    assert '<td>api_5xx_rate</td><td class="sev-info">info</td><td>1.2%</td><td>1.0%</td><td>—</td>' in html
    assert (
        '<td>All tenants</td><td>dau</td><td class="sev-warning">warning</td><td>1,100</td><td>1,350</td><td>-3.4</td>'
        in html
    )
    assert "<td>950 ms</td><td>410 ms</td>" in html
    # Cohorts: tenant cohorts by month (not user cohorts, not weeks); unobservable cells left blank.
    assert "signup cohort of tenants active in each month after signup" in html
    assert ">100.0%<" in html and ">74.0%<" in html and ">80.0%<" in html and ">64.0%<" not in html
    assert "<td>Net new MRR</td><td>€8K</td><td>€10K</td><td>€23.5K</td>" in html  # 15000+9500+1200-800-1443.22


def test_missing_marts_read_na_with_a_reason_never_zero(conn, tmp_path):
    marts_data.create_daily_metrics(conn)
    html = export(conn, tmp_path).html.read_text(encoding="utf-8")
    t = tiles(html)
    for key in ("mrr", "arr", "nrr", "grr", "paying_customers", "arpa", "customer_churn_rate", "quick_ratio"):
        assert "n/a — revenue marts not built (marts.fct_revenue_monthly missing)" in t[key], t[key]
    assert "n/a — revenue marts not built" in t["runway"]
    assert "1,234" in t["dau"]
    for key, text in t.items():
        assert not re.search(r"(?<![\d,.])(\$0|0\.0%)(?![\d,.])", text), (key, text)
    assert "n/a — revenue marts not built (marts.fct_mrr_movements missing)" in html
    assert "n/a — cohort marts not built (marts.fct_cohort_retention missing)" in html
    assert "n/a — alert marts not built (marts.fct_metric_alerts missing)" in html
    assert html.count('<svg class="chart"') == 1  # only DAU/MAU


def test_unknown_tenant_has_no_numbers(conn, tmp_path):
    marts_data.create_all(conn)
    t = tiles(export(conn, tmp_path, tenant="t9").html.read_text(encoding="utf-8"))
    assert "n/a — no rows for tenant t9 in marts.fct_daily_metrics in the window" in t["dau"]
    assert "n/a — no rows for tenant t9 in marts.fct_revenue_monthly in the window" in t["mrr"]


def test_tenant_scope_reads_that_tenants_rows(conn, tmp_path):
    marts_data.create_all(conn)
    t = tiles(export(conn, tmp_path, tenant="t1").html.read_text(encoding="utf-8"))
    assert "$61,728" in t["mrr"]  # half of the all-tenants MRR in the fixture


def test_minor_units_use_the_currency_exponent(conn, tmp_path):
    conn.execute("create schema marts")
    conn.execute(
        "create table marts.fct_revenue_monthly (month date, tenant_id text, mrr_minor bigint, reporting_currency text)"
    )
    conn.execute("insert into marts.fct_revenue_monthly values ('2024-03-01', '__all__', 98765, 'KWD')")
    conn.execute("insert into marts.fct_revenue_monthly values ('2024-02-01', '__all__', 1234567, 'KWD')")
    t = tiles(export(conn, tmp_path).html.read_text(encoding="utf-8"))
    assert "KWD 98.765" in t["mrr"] and "−92.0%" in t["mrr"]


def test_movements_come_from_the_monthly_revenue_mart_when_it_has_the_buckets(conn, tmp_path):
    marts_data.create_revenue_monthly(conn, buckets=True)
    html = export(conn, tmp_path).html.read_text(encoding="utf-8")
    assert "Source: marts.fct_revenue_monthly<" in html
    # March: new 3000 + expansion 500 + reactivation 60 - contraction 100 - churn 200
    assert "<td>Net new MRR</td><td>$1.3K</td><td>$2.3K</td><td>$3.3K</td>" in html


def test_per_tenant_pack_says_which_marts_are_company_wide(conn, tmp_path):
    marts_data.create_all(conn)
    result = export(conn, tmp_path, tenant="t1")
    html = result.html.read_text(encoding="utf-8")
    assert "n/a — marts.fct_cohort_retention has no tenant_id, cannot show tenant t1" in html
    t = tiles(html)
    assert "n/a — no rows for tenant t1 in marts.fct_finance_monthly in the window" in t["runway"]
    # Movements of t1 only (60% of every bucket in the fixture): March net 0.6 x 23456.78
    assert "<td>Net new MRR</td><td>$4.8K</td><td>$6K</td><td>$14.1K</td>" in html


def test_a_failing_mart_query_is_reported_and_the_rest_still_renders(conn, tmp_path):
    marts_data.create_daily_metrics(conn)
    conn.execute(
        "create view marts.fct_revenue_monthly as"
        " select date '2024-03-01' as month, '__all__'::text as tenant_id, (1 / (random() * 0)::int)::numeric as mrr"
    )
    result = export(conn, tmp_path)
    t = tiles(result.html.read_text(encoding="utf-8"))
    assert "n/a — query failed: division by zero" in t["mrr"]
    assert "1,234" in t["dau"]
    # The view cannot be exported either: reported, no (partial) file, the other marts still exported.
    assert result.csv_errors == {"fct_revenue_monthly": "division by zero"}
    assert [p.name for p in result.csv_files] == ["fct_daily_metrics.csv"]
    assert sorted(p.name for p in (tmp_path / "out" / "csv").iterdir()) == ["fct_daily_metrics.csv"]
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


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (apt-get install chromium)")
@pytest.mark.parametrize("marts", ["all", "none"])
def test_pdf_is_a4_landscape_one_page_per_section(conn, tmp_path, marts):
    if marts == "all":
        marts_data.create_all(conn)
    result = export(conn, tmp_path, pdf=True, start=date(2023, 4, 1), end=date(2024, 3, 31))
    assert result.pdf is not None and result.pdf.exists()
    assert result.pdf.read_bytes()[:5] == b"%PDF-"
    pages, size = pdf_pages(result.pdf)
    assert pages == PAGE_COUNT == 6
    if size:
        assert size.startswith("841.") and "x 594." in size and "A4" in size


def test_an_empty_mart_says_so(conn, tmp_path):
    marts_data.create_revenue_monthly(conn)
    conn.execute("truncate marts.fct_revenue_monthly")
    html = export(conn, tmp_path, end=date(2024, 3, 31)).html.read_text(encoding="utf-8")
    assert "n/a — marts.fct_revenue_monthly is empty" in tiles(html)["mrr"]
    assert '<div class="na-box" data-status="na">n/a — marts.fct_revenue_monthly is empty</div>' in html


# ------------------------------------------------------------------------------------------------ the command


def _export_command(pg_target: Target, tmp_path: Path, monkeypatch, *args: str) -> tuple[int, list[str]]:  # noqa: ANN001
    from typer.testing import CliRunner

    from extract.settings import reset_settings
    from orchestration.cli import app

    monkeypatch.setenv("WAREHOUSE_URL", pg_target.url.replace("+psycopg", ""))
    monkeypatch.setenv("CHROMIUM_PATH", str(tmp_path / "no-chromium-here"))
    reset_settings()
    result = CliRunner().invoke(app, ["export", "--out", str(tmp_path / "out"), *args], prog_name="execmetrics")
    reset_settings()
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    return result.exit_code, lines


def test_export_without_chromium_writes_csv_and_html_and_says_the_pdf_was_skipped(
    conn, pg_target: Target, tmp_path: Path, monkeypatch
) -> None:  # noqa: ANN001
    marts_data.create_all(conn)
    code, lines = _export_command(pg_target, tmp_path, monkeypatch, "--end", "2024-03-31")
    assert code == 0, lines
    assert (tmp_path / "out" / "board_pack.html").exists() and (tmp_path / "out" / "csv").is_dir()
    assert not (tmp_path / "out" / "board_pack.pdf").exists()
    skipped = [line for line in lines if "PDF" in line and "skipped" in line]
    assert len(skipped) == 1 and "CHROMIUM_PATH" in skipped[0] and "chromium" in skipped[0], lines
    assert not any(line.startswith("error:") or "Traceback" in line for line in lines), lines

    # asked for explicitly, the PDF is required: one error line, CSV and HTML still written
    code, lines = _export_command(pg_target, tmp_path, monkeypatch, "--end", "2024-03-31", "--pdf")
    errors = [line for line in lines if line.startswith("error:")]
    assert code == 1 and len(errors) == 1 and "no Chromium found" in errors[0], lines
    assert not any("Traceback" in line for line in lines), lines
