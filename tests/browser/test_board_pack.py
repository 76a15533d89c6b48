"""The board pack in a real browser: headless Chromium (Debian package) via Playwright, on the shared demo-sized
warehouse. The KPI tiles a person sees equal the reporting tables; screenshots of every page go to test-artifacts/
(git-ignored) for a human to look at."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest

from dashboards.export import export_all
from dashboards.export.board_pack import PAGES
from dashboards.export.formatting import fmt_count, fmt_money, fmt_pct
from extract.settings import PROJECT_ROOT
from extract.warehouse import Target

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
NOW = datetime(2026, 11, 2, 7, 30, tzinfo=UTC)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed at /usr/bin/chromium"),
]


@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield b
        finally:
            b.close()


def open_pack(browser, html: Path, shot: str):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(f"console.{msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    requests: list[str] = []
    page.on("request", lambda req: requests.append(req.url))
    page.goto(html.resolve().as_uri())
    page.wait_for_load_state("load")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{shot}.png"), full_page=True)
    for section in PAGES:
        page.locator(f"#{section}").screenshot(path=str(ARTIFACTS / f"{shot}_{section}.png"))
    return page, errors, requests


def _checks_common(page, errors, requests, html: Path) -> None:
    assert errors == []
    assert requests == [html.resolve().as_uri()]  # self-contained: nothing else is fetched
    tiles = page.locator(".tile[data-kpi]")
    assert tiles.count() == 24
    for i in range(tiles.count()):
        tile = tiles.nth(i)
        box = tile.bounding_box()
        assert box and box["width"] > 150 and box["height"] > 100
        assert tile.locator(".value").inner_text().strip() and tile.locator(".def").inner_text().strip()
    overflow = page.evaluate(
        "() => [...document.querySelectorAll('.tile')].filter(t => t.scrollWidth > t.clientWidth + 1).length"
    )
    assert overflow == 0


@pytest.mark.slow
def test_board_pack_shows_the_reporting_numbers(browser, demo_warehouse, tmp_path: Path):
    with demo_warehouse.connect() as conn:
        result = export_all(conn, tmp_path / "out", pdf=False, currency="USD", timezone="UTC", now=NOW)
        cur = conn.execute(
            "select mrr, paying_customers, nrr_mtd, dau_mau_ratio from reporting.rpt_kpi_periods"
            " where grain = 'month' and tenant_id = '__all__' order by period_start desc limit 1"
        )
        mrr, paying, nrr, stickiness = cur.fetchone()
    page, errors, requests = open_pack(browser, result.html, "board_pack")
    try:
        _checks_common(page, errors, requests, result.html)
        assert page.locator('#revenue [data-kpi="mrr"] .value').inner_text() == fmt_money(float(mrr), "USD")
        assert page.locator('#revenue [data-kpi="paying_customers"] .value').inner_text() == fmt_count(paying)
        assert page.locator('#revenue [data-kpi="nrr_mtd"] .value').inner_text() == fmt_pct(float(nrr))
        assert page.locator('[data-kpi="dau_mau_ratio"] .value').inner_text() == fmt_pct(float(stickiness))
        assert page.locator('#cover .headline[data-kpi="mrr"] .h-value').inner_text() == fmt_money(float(mrr), "USD")
        assert page.locator('.tile[data-status="na"]').count() <= 2  # the demo has data for (nearly) every tile
        charts = page.locator("svg.chart")
        assert charts.count() == 8
        for svg in charts.all():
            box = svg.bounding_box()
            assert box and box["width"] > 400 and box["height"] > 100
        assert page.locator(".na-box").count() == 0
    finally:
        page.close()


def test_board_pack_without_the_reporting_layer(browser, pg_target: Target, tmp_path: Path):
    with psycopg.connect(pg_target.conninfo, autocommit=True) as conn:
        result = export_all(
            conn, tmp_path / "out", pdf=False, end=date(2024, 3, 31), currency="USD", timezone="UTC", now=NOW
        )
    page, errors, requests = open_pack(browser, result.html, "board_pack_no_reporting")
    try:
        _checks_common(page, errors, requests, result.html)
        assert page.locator('.tile[data-status="na"]').count() == 24
        assert "reporting layer not built" in page.locator('#revenue [data-kpi="mrr"]').inner_text()
        assert page.locator(".na-box").count() == 9
    finally:
        page.close()
