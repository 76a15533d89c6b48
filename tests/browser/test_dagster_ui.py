"""Headless Chromium opens the running Dagster UI (asset graph, backfills page) and saves screenshots under
test-artifacts/dagster/. Fails if a page shows an error; skips only if /usr/bin/chromium is absent."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "orchestration"))

from dashboards.export.pdf import CHROMIUM_FLAGS  # noqa: E402
from extract.settings import PROJECT_ROOT  # noqa: E402
from extract.warehouse import Target  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = [flag for flag in CHROMIUM_FLAGS if flag != "--headless"]  # Playwright adds its own
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "dagster"
ERROR_TEXT = re.compile(r"(Unexpected GraphQL error|Something went wrong|PythonError|An error occurred|Error loading)")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed at /usr/bin/chromium"),
]


@pytest.fixture(scope="session")
def dagster_ui(pg_server: Target, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):  # noqa: ANN201
    from ui_harness import shared_ui

    return shared_ui(pg_server, tmp_path_factory, request)


def _visit(page, url: str, name: str, expect: str) -> None:  # noqa: ANN001
    """Open a page, wait for a text it must show, save a screenshot (also on failure), fail on error text."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.goto(url, wait_until="load", timeout=120_000)
    try:
        page.get_by_text(expect, exact=False).first.wait_for(state="attached", timeout=90_000)
        page.wait_for_timeout(3_000)  # let the graph / tables settle before the screenshot
    finally:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        body = page.inner_text("body")
        (ARTIFACTS / f"{name}.txt").write_text(body)
    match = ERROR_TEXT.search(body)
    assert match is None, f"{name}: the page shows an error: {match.group(0) if match else ''}\n{body[:2000]}"


def test_asset_graph_and_backfill_pages(dagster_ui) -> None:  # noqa: ANN001
    from playwright.sync_api import sync_playwright
    from ui_harness import daily_backfill

    ui = dagster_ui
    backfill_id = daily_backfill(ui)  # the end-to-end test's backfill: shown here while it runs or once done
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            _visit(page, ui.url + "/asset-groups", "asset_graph", "raw_app")
            _visit(
                page,
                ui.url + "/assets/marts/fct_daily_metrics?view=partitions",
                "asset_partitions",
                "fct_daily_metrics",
            )
            _visit(page, ui.url + "/runs?view=backfills", "backfills", backfill_id)
            _visit(page, ui.url + f"/runs/b/{backfill_id}", "backfill", backfill_id)
            _visit(page, ui.url + "/automation", "schedules", "daily_schedule")
        finally:
            browser.close()
    assert not errors, f"JavaScript errors in the UI: {errors}"
