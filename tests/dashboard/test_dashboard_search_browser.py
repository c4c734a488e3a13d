"""The dashboard's front and hindsight-limit chart in headless Chromium, from a real ``backtest --search``.

The data are the search results the library writes (``backtest.json`` with its ``search``
section); the page must draw the Pareto front, the hindsight limit and the recommendation
exactly from them. Skipped without Chromium, except in CI (``CI=true``), where it fails.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from test_dashboard_browser import ARGS, BROWSER, CHROMIUM, Page

from backtest_data import SCHEMA, noisy
from backtest_data import bank_config as config
from modelmedic.config import Settings
from modelmedic.dashboard.routes import create_dashboard_app
from servers import CLEARED_ENV, ThreadServer

pytestmark = BROWSER


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:
    """A dashboard server on a home whose latest backtest is a search; and that search's ``backtest.json``."""
    from modelmedic.backtest import search_and_report

    home = tmp_path_factory.mktemp("search-dashboard")
    with pytest.MonkeyPatch.context() as patch:
        for var in CLEARED_ENV:
            patch.delenv(var, raising=False)
        settings = Settings(home=home / "home", cache_dir=home / "cache")
        outcome = search_and_report(noisy(weeks=10), SCHEMA, config(workers=1), settings, log=False)
        document = json.loads((settings.backtest_reports_dir / "backtest.json").read_text())
        assert document["search"] == json.loads(json.dumps(outcome.search.to_dict()))  # type: ignore[union-attr]
        with ThreadServer(create_dashboard_app(settings)) as running:
            yield running.url, document


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


def test_the_chart_draws_the_front_the_limit_and_the_recommendation(browser: Any, searched) -> None:
    url, document = searched
    search = document["search"]
    page = Page(browser, url, 1280)
    try:
        assert page.page.evaluate("document.body.dataset.ready") == "true"
        traces = page.page.evaluate(
            "document.getElementById('chart-pareto').data.map((t) => ({name: t.name, x: t.x, y: t.y, text: t.text}))"
        )
        by_name = {t["name"]: t for t in traces}
        assert set(by_name) == {"strategy", "Pareto front", "recommended", "hindsight limit"}
        front = by_name["Pareto front"]
        # the chart's front: the search's, plus strategies tied with one of its points (same schedule)
        points = sorted({(x, round(y, 3)) for x, y in zip(front["x"], front["y"], strict=True)})
        assert points == [(f["retrains"], round(f["mae"], 3)) for f in search["front"]]
        assert {f["name"] for f in search["front"]} <= set(front["text"])
        limit = by_name["hindsight limit"]
        most = max(f["retrains"] for f in search["front"])
        expected = [p for p in search["limit"] if p["retrains"] <= max(most, 1)]
        assert limit["x"] == [p["retrains"] for p in expected] and limit["x"][0] == 0
        assert limit["y"] == pytest.approx([p["mae"] for p in expected], abs=1e-9)
        # no strategy on the front does better than the limit at its number of retrains
        mae_at = dict(zip(limit["x"], limit["y"], strict=True))
        assert all(y >= mae_at[x] - 1e-6 for x, y in zip(front["x"], front["y"], strict=True))
        assert by_name["recommended"]["text"] == [search["recommendation"]["name"]]
        # drawn, not only handed to plotly: a marker per front strategy, a line for the limit
        index = [t["name"] for t in traces]
        layer = "#chart-pareto g.scatterlayer g.trace"
        assert page.count(f"{layer}:nth-child({index.index('Pareto front') + 1}) path.point") == len(front["x"])
        assert page.count(f"{layer}:nth-child({index.index('hindsight limit') + 1}) path.js-line") == 1
        caption = page.page.locator("#chart-pareto").get_attribute("aria-label") or ""
        assert f"{search['candidates']} strategies searched on a bank of {search['models']} models" in caption
        assert "regret" in caption
        heading = page.page.locator("#recommendation h3").text_content() or ""
        assert heading == f"Recommendation: {search['recommendation']['name']}"
        assert page.errors == [] and page.outside == []
    finally:
        page.close()
