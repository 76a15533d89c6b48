"""The board pack in a real browser: headless Chromium (Debian package) via Playwright.

Screenshots go to test-artifacts/ (git-ignored) for a human to look at.
"""

from __future__ import annotations

import importlib.util
from datetime import UTC, date, datetime
from pathlib import Path
from types import ModuleType

import psycopg
import pytest

from dashboards.export import export_all
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

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed at /usr/bin/chromium"),
]


def _marts_data() -> ModuleType:
    path = Path(__file__).resolve().parent.parent / "export" / "marts_data.py"
    spec = importlib.util.spec_from_file_location("export_marts_data", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
    for section in ("cover", "kpis", "trends", "movements", "cohorts", "alerts"):
        page.locator(f"#{section}").screenshot(path=str(ARTIFACTS / f"{shot}_{section}.png"))
    return page, errors, requests


@pytest.mark.parametrize("with_marts", [True, False], ids=["marts", "no_marts"])
def test_board_pack_renders_in_chromium(browser, pg_target: Target, tmp_path: Path, with_marts: bool):
    with psycopg.connect(pg_target.conninfo, autocommit=True) as conn:
        if with_marts:
            _marts_data().create_all(conn)
        result = export_all(
            conn,
            tmp_path / "out",
            pdf=False,
            end=date(2024, 3, 31) if not with_marts else None,
            currency="USD",
            timezone="UTC",
            now=datetime(2024, 4, 2, 7, 30, tzinfo=UTC),
        )
    assert result.html is not None
    shot = "board_pack" if with_marts else "board_pack_no_marts"
    page, errors, requests = open_pack(browser, result.html, shot)
    try:
        assert errors == []
        # Self-contained: the only request is the file itself.
        assert requests == [result.html.resolve().as_uri()]
        tiles = page.locator(".tile[data-kpi]")
        assert tiles.count() == 16
        for i in range(16):
            tile = tiles.nth(i)
            assert tile.is_visible()
            box = tile.bounding_box()
            assert box and box["width"] > 150 and box["height"] > 100
            assert tile.locator(".value").inner_text().strip()
            assert tile.locator(".def").inner_text().strip()
            assert tile.get_attribute("title")
        if with_marts:
            assert page.locator('[data-kpi="mrr"] .value').inner_text() == "$123,457"
            assert page.locator('[data-kpi="dau_mau"] .value').inner_text() == "24.7%"
            assert page.locator('[data-kpi="nrr"] .value').inner_text().startswith("n/a")
            assert page.locator("svg.chart").count() == 4
            for svg in page.locator("svg.chart").all():
                box = svg.bounding_box()
                assert box and box["width"] > 500 and box["height"] > 100
        else:
            assert page.locator('.tile[data-status="na"]').count() == 16
            assert "revenue marts not built" in page.locator('[data-kpi="mrr"]').inner_text()
            assert page.locator(".na-box").count() == 5
        # Tiles must not overflow their grid (long values or reasons would spill into the next tile).
        overflow = page.evaluate(
            "() => [...document.querySelectorAll('.tile')].filter(t => t.scrollWidth > t.clientWidth + 1).length"
        )
        assert overflow == 0
    finally:
        page.close()
