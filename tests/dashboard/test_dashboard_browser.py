"""The dashboard in headless Chromium, served by a real HTTP server from real monitor results.

Screenshots land in ``test-artifacts/`` (git-ignored): ``dashboard.png`` (full page at
laptop width), ``dashboard-1280.png`` and ``dashboard-390.png`` (phone width). Without
Chromium the tests are skipped, except in CI (``CI=true``), which installs it: there they fail.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from modelmedic.config import Settings
from modelmedic.dashboard.routes import create_dashboard_app
from servers import CLEARED_ENV, ThreadServer

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHARTS = ["chart-drift-heatmap", "chart-drift-share", "chart-output-drift", "chart-mae", "chart-pareto"]
N_WINDOWS, N_FEATURES, N_STRATEGIES = 4, 11, 3

# the marks of every headless-Chromium test module: skipped without Chromium, except in CI
BROWSER = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists() and os.environ.get("CI") != "true",
        reason="headless Chromium (/usr/bin/chromium) is not installed",
    ),
]
pytestmark = BROWSER


@pytest.fixture(scope="module")
def server(dashboard_home: Path) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch:
        for var in CLEARED_ENV:
            patch.delenv(var, raising=False)
        settings = Settings(home=dashboard_home)
    with ThreadServer(create_dashboard_app(settings)) as running:
        yield running.url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


class Page:
    """A page on the dashboard that records console errors and requests leaving the server."""

    def __init__(self, browser: Any, url: str, width: int) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.outside: list[str] = []
        host = urlparse(url).netloc
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.context.route("**/*", lambda route: self._only_local(route, host))
        self.page.goto(url)
        self.page.wait_for_function("document.body.dataset.ready !== undefined", timeout=60_000)

    def _only_local(self, route: Any, host: str) -> None:
        parsed = urlparse(route.request.url)
        if parsed.scheme in {"http", "https"} and parsed.netloc != host:
            self.outside.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    def count(self, selector: str) -> int:
        return self.page.locator(selector).count()

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def laptop(browser: Any, server: str) -> Iterator[Page]:
    page = Page(browser, server, 1280)
    yield page
    page.close()


def test_page_renders_every_chart_without_errors(laptop: Page) -> None:
    page = laptop.page

    assert page.evaluate("document.body.dataset.ready") == "true"
    heatmap = page.evaluate(
        "(() => { const d = document.getElementById('chart-drift-heatmap').data[0];"
        " return {rows: d.z.length, cols: d.z[0].length, y: d.y, x: d.x.length}; })()"
    )
    assert heatmap["rows"] == N_FEATURES and heatmap["cols"] == N_WINDOWS and heatmap["x"] == N_WINDOWS
    assert heatmap["y"][:4] == ["temp", "atemp", "hum", "windspeed"]
    assert laptop.count("#chart-drift-heatmap g.heatmaplayer image") == 1
    drifted_marks = page.evaluate("document.getElementById('chart-drift-heatmap').data[1].x.length")
    assert laptop.count("#chart-drift-heatmap g.scatterlayer path.point") == drifted_marks > 0
    assert laptop.count("#chart-drift-share g.barlayer g.point") == N_WINDOWS
    assert laptop.count("#chart-output-drift g.scatterlayer g.trace") == 2
    assert laptop.count("#chart-mae g.scatterlayer g.trace:first-child path.point") == N_WINDOWS
    assert laptop.count("#windows-table tbody tr") == N_WINDOWS
    assert laptop.count("#chart-pareto g.scatterlayer g.trace:first-child path.point") == N_STRATEGIES
    assert laptop.count("#strategies tbody tr") == N_STRATEGIES
    names = page.evaluate("document.getElementById('chart-mae').data.map((t) => t.name)")
    assert any(name.startswith("with retraining: ") for name in names) and "retrain (backtest)" in names
    assert page.locator("#recommendation h3").text_content().startswith("Recommendation: ")
    assert laptop.count("#decisions tbody tr") == 1
    assert laptop.errors == []
    assert laptop.outside == []


@pytest.mark.parametrize("chart", CHARTS)
def test_every_chart_has_a_title_axis_titles_and_a_text_alternative(laptop: Page, chart: str) -> None:
    node = laptop.page.locator(f"#{chart}")

    assert node.locator(".gtitle").text_content().strip()
    assert node.locator(".xtitle").text_content().strip() and node.locator(".ytitle").text_content().strip()
    assert node.get_attribute("role") == "img"
    label = node.get_attribute("aria-label")
    described = laptop.page.locator(f"#{node.get_attribute('aria-describedby')}").text_content()
    assert label and len(label) > 40 and described and described in label


def test_clicking_a_table_row_opens_the_windows_report(laptop: Page) -> None:
    with laptop.context.expect_page() as opened:
        laptop.page.locator('#windows-table tr[data-window="2"] td').first.click()
    report = opened.value
    report.wait_for_load_state()

    assert report.url.endswith("/window-002.html")
    report.get_by_text(re.compile("drift", re.IGNORECASE)).first.wait_for(timeout=60_000)  # evidently rendered it
    assert laptop.errors == []


def test_clicking_a_window_in_a_chart_opens_its_report(laptop: Page) -> None:
    bar = laptop.page.locator("#chart-drift-share g.barlayer g.point path").nth(1)
    bar.evaluate("(node) => node.scrollIntoView({block: 'center'})")
    box = bar.bounding_box()
    assert box is not None and box["height"] > 0

    with laptop.context.expect_page() as opened:
        laptop.page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    report = opened.value
    report.wait_for_load_state()

    assert report.url.endswith("/window-001.html")
    assert laptop.errors == []


def test_screenshots_at_laptop_and_phone_widths(browser: Any, server: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for width in (1280, 390):
        page = Page(browser, server, width)
        try:
            overflow = page.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            page.page.screenshot(path=ARTIFACTS / f"dashboard-{width}.png", full_page=True)
            if width == 1280:
                page.page.screenshot(path=ARTIFACTS / "dashboard.png", full_page=True)
            assert overflow <= 0, f"the page scrolls sideways by {overflow} px at {width} px"
            assert page.errors == [] and page.outside == []
            heatmap_width = page.page.locator("#chart-drift-heatmap .main-svg").first.bounding_box()["width"]
            assert heatmap_width <= width
        finally:
            page.close()
        assert (ARTIFACTS / f"dashboard-{width}.png").stat().st_size > 10_000
