"""The dashboard's data assembly and HTTP routes, on real monitor results and a real MLflow store."""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from modelmedic.config import Settings
from modelmedic.dashboard.payload import (
    dashboard_data,
    drift_strength,
    mlflow_run_url,
    report_path,
    served_mismatch,
)
from modelmedic.dashboard.routes import create_dashboard_app, plotly_js_path
from modelmedic.schema import builtin_schema
from servers import CLEARED_ENV, INSTANCE, free_port, service_env, wait_until

FEATURES = list(builtin_schema("bike-hour").features)


def strict_json(text: str) -> Any:
    """Parse ``text`` refusing NaN and Infinity (browsers' JSON.parse refuses them too)."""

    def refuse(constant: str) -> None:
        raise AssertionError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


def home_settings(home: Path, **values: Any) -> Settings:
    with pytest.MonkeyPatch.context() as patch:
        for var in CLEARED_ENV:
            patch.delenv(var, raising=False)
        return Settings(home=home, **values)


@pytest.fixture(scope="module")
def data(dashboard_home: Path) -> dict[str, Any]:
    return dashboard_data(home_settings(dashboard_home, mlflow_ui_url="http://mlflow.test:5000/"))


@pytest.fixture(scope="module")
def client(dashboard_home: Path) -> Iterator[TestClient]:
    with TestClient(create_dashboard_app(home_settings(dashboard_home))) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("test", "score", "threshold", "expected"),
    [
        ("ks", 0.05, 0.05, 0.0),  # at the threshold
        ("ks", 0.0005, 0.05, 2.0),  # a p-value 100 times below: drift
        ("ks", 0.5, 0.05, -1.0),
        ("ks", 0.0, 0.05, 10.0),  # clipped
        ("wasserstein", 0.2, 0.1, math.log10(2)),  # a distance above: drift
        ("wasserstein", 0.01, 0.1, -1.0),
        ("psi", 0.0, 0.1, -10.0),
    ],
)
def test_drift_strength_is_positive_exactly_when_the_test_says_drift(
    test: str, score: float, threshold: float, expected: float
) -> None:
    from modelmedic.drift.base import is_drifted

    strength = drift_strength(test, score, threshold)

    assert strength == pytest.approx(expected)
    if strength != 0:
        assert (strength > 0) == is_drifted(test, score, threshold)


def test_drift_strength_of_an_untested_column_is_none() -> None:
    assert drift_strength("ks", None, 0.05) is None
    assert drift_strength("ks", float("nan"), 0.05) is None
    assert drift_strength(None, 0.1, None) is None


def test_mlflow_run_url_points_at_the_ui_route() -> None:
    assert mlflow_run_url("http://h:5000/", "3", "abc") == "http://h:5000/#/experiments/3/runs/abc"
    assert mlflow_run_url("http://h:5000", None, "abc") is None


def test_model_card_comes_from_the_registry(data: dict[str, Any]) -> None:
    model = data["model"]

    assert model["name"] == "bike-demand" and model["version"] == "1" and model["alias"] == "champion"
    assert model["training"] == {"start": "2011-01-01", "end": "2011-01-28", "rows": 618}
    assert model["estimator"] == "RandomForestRegressor"
    assert model["metrics"]["train"]["mae"] < model["metrics"]["eval"]["mae"] < model["metrics"]["baseline"]["mae"]
    assert re.fullmatch(r"http://mlflow\.test:5000/#/experiments/\d+/runs/[0-9a-f]{32}", model["run_url"])
    assert [v["version"] for v in model["versions"]] == ["1"] and model["versions"][0]["aliases"] == ["champion"]


def test_monitor_section_has_every_window_and_feature(data: dict[str, Any], dashboard_home: Path) -> None:
    monitor = data["monitor"]
    summary = json.loads((dashboard_home / "reports" / "monitor" / monitor["folder"] / "summary.json").read_text())

    assert monitor["features"] == FEATURES
    assert [w["label"] for w in monitor["windows"]] == [w["label"] for w in summary["windows"]]
    assert len(monitor["windows"]) == 4
    for key in ("strength", "score", "drifted", "stattest"):
        assert len(monitor["matrix"][key]) == len(FEATURES)
        assert all(len(row) == 4 for row in monitor["matrix"][key])
    for window, source in zip(monitor["windows"], summary["windows"], strict=True):
        assert window["mae"] == pytest.approx(source["performance"]["mae"])
        assert window["drift_share"] == pytest.approx(source["drift"]["dataset"]["share"])
        assert window["drifted_features"] == [c for c, v in source["drift"]["columns"].items() if v["drifted"]]
        assert window["report_url"] == f"/dashboard/reports/{monitor['folder']}/window-{window['index']:03d}.html"
        assert window["run_url"].endswith(f"/runs/{source['run_id']}")
        assert (window["target"]["strength"] > 0) == window["target"]["drifted"]
    drifted = monitor["matrix"]["drifted"]
    strength = monitor["matrix"]["strength"]
    assert all(
        (s > 0) == d for srow, drow in zip(strength, drifted, strict=True) for s, d in zip(srow, drow, strict=True)
    )
    assert monitor["reference"]["mae"] == pytest.approx(summary["reference"]["error"]["mae"])
    assert monitor["drift_share"] == 0.5


def test_backtest_and_retrain_decisions_are_passed_through(data: dict[str, Any], dashboard_home: Path) -> None:
    written = json.loads((dashboard_home / "reports" / "backtest" / "latest" / "backtest.json").read_text())
    backtest = data["backtest"]

    assert [s["name"] for s in backtest["strategies"]] == [s["name"] for s in written["strategies"]]
    assert sorted(s["name"] for s in backtest["strategies"]) == ["drift:0.5", "never", "periodic:1W"]
    assert [s["recommended"] for s in backtest["strategies"]].count(True) == 1
    assert backtest["recommendation"]["name"] == next(s["name"] for s in backtest["strategies"] if s["recommended"])
    assert [w["begin"] for w in backtest["windows"]] == [w["begin"] for w in data["monitor"]["windows"]]
    [decision] = data["retrains"]
    assert decision["tags"]["role"] == "retrain-decision" and decision["tags"]["strategy"] == "periodic:1W"
    assert decision["tags"]["decision"] in {"keep", "promote"} and decision["tags"]["why"]
    assert decision["params"]["now"].startswith("2011-02-26")
    assert "/runs/" in decision["run_url"]


def test_empty_home_gives_no_sections_and_says_what_to_run(tmp_path: Path) -> None:
    body = dashboard_data(home_settings(tmp_path / "empty"))

    assert body["model"] is None and body["monitor"] is None and body["backtest"] is None
    assert body["retrains"] == [] and body["live"] is None
    text = " ".join(body["problems"])
    assert "modelmedic train" in text and "modelmedic monitor" in text and "modelmedic backtest" in text


def test_damaged_results_are_problems_not_a_server_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    backtest = home / "reports" / "backtest" / "latest" / "backtest.json"
    backtest.parent.mkdir(parents=True)
    backtest.write_text('{"strategies": [')  # half-written while 'modelmedic backtest' runs
    (home / "reports" / "monitor").mkdir(parents=True)
    (home / "reports" / "monitor" / "latest.json").write_text("{}")  # names no job folder

    with TestClient(create_dashboard_app(home_settings(home))) as client:
        answer = client.get("/dashboard/data.json")

    assert answer.status_code == 200
    body = strict_json(answer.text)
    assert body["backtest"] is None and body["monitor"] is None
    problems = body["problems"]
    assert any("backtest results cannot be read" in p and "'modelmedic backtest' again" in p for p in problems)
    assert any("monitoring results cannot be read" in p and "'modelmedic monitor' again" in p for p in problems)


def test_report_path_refuses_anything_but_a_window_report(dashboard_home: Path) -> None:
    settings = home_settings(dashboard_home)
    folder = json.loads((dashboard_home / "reports" / "monitor" / "latest.json").read_text())["folder"]

    assert report_path(settings, folder, "window-000.html") is not None
    assert report_path(settings, folder, "window-999.html") is None
    assert report_path(settings, "..", "window-000.html") is None
    assert report_path(settings, folder, "../summary.json") is None
    assert report_path(settings, folder, "drift_flags.html") is None


def test_page_is_self_contained(client: TestClient) -> None:
    page = client.get("/")

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert "/static/plotly.min.js" in sources
    assert not [s for s in sources if s.startswith(("http:", "https:", "//"))]
    for source in sources:
        if source.startswith("/"):
            assert client.get(source).status_code == 200, source


def test_plotly_js_comes_from_the_package_with_its_licence(client: TestClient) -> None:
    answer = client.get("/static/plotly.min.js")

    assert answer.status_code == 200 and "javascript" in answer.headers["content-type"]
    assert answer.content == plotly_js_path().read_bytes()
    assert answer.text.startswith("/**\n* plotly.js") and "MIT license" in answer.text[:300]
    assert "MIT License" in (plotly_js_path().parent / "plotly.LICENSE.txt").read_text()


def test_data_json_is_strict_json(client: TestClient, data: dict[str, Any]) -> None:
    answer = client.get("/dashboard/data.json")

    assert answer.status_code == 200
    body = strict_json(answer.text)
    assert [w["index"] for w in body["monitor"]["windows"]] == [w["index"] for w in data["monitor"]["windows"]]
    assert body["model"]["name"] == "bike-demand" and body["live"] is None
    assert body["problems"] == []


def test_window_reports_are_served_and_nothing_else(
    client: TestClient, data: dict[str, Any], dashboard_home: Path
) -> None:
    folder = data["monitor"]["folder"]
    for window in data["monitor"]["windows"]:
        report = client.get(window["report_url"])
        written = dashboard_home / "reports" / "monitor" / folder / "windows" / f"window-{window['index']:03d}.html"
        assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
        assert report.content == written.read_bytes()

    assert client.get(f"/dashboard/reports/{folder}/window-999.html").status_code == 404
    assert client.get(f"/dashboard/reports/{folder}/..%2Fsummary.json").status_code == 404
    assert client.get(f"/dashboard/reports/{folder}/results.csv").status_code == 404
    assert client.get("/dashboard/static/secret.py").status_code == 404


def test_service_serves_the_dashboard_with_live_traffic(champion_home: Path, bike_dir: Path, tmp_path: Path) -> None:
    from modelmedic.service.app import create_app

    settings = home_settings(
        champion_home, data_dir=bike_dir, api_token="token", database_url=f"sqlite:///{tmp_path / 'log.db'}"
    )
    with TestClient(create_app(settings)) as service:
        answer = service.post("/predict", json={"instances": [INSTANCE] * 3})
        assert answer.status_code == 200
        [first, *_] = answer.json()["predictions"]
        wait_until(lambda: service.app.state.service.store.count() == 3, 30, "the log to hold 3 predictions")
        feedback = service.post(
            "/feedback", json={"id": first["id"], "cnt": 40}, headers={"Authorization": "Bearer token"}
        )
        assert feedback.status_code == 200 and feedback.json()["accepted"] == 1

        page = service.get("/")
        live = strict_json(service.get("/dashboard/data.json").text)["live"]

    assert page.status_code == 200 and "/static/plotly.min.js" in page.text
    assert live["rows"] == 3 and sum(h["predictions"] for h in live["per_hour"]) == 3
    assert live["labelled"] == sum(h["labelled"] for h in live["per_hour"]) == 1
    assert live["labelled_share"] == pytest.approx(1 / 3) and live["mae"] == pytest.approx(abs(first["cnt"] - 40))
    assert set(live["drift"]) == {"last_24h", "last_7d"}
    assert live["drift"]["last_24h"]["rows"] == 3 and live["drift"]["last_24h"]["tested_columns"] == 0


def test_a_service_answering_with_another_version_than_the_champion_is_a_problem() -> None:
    card = {"name": "bike-demand", "version": "2", "alias": "champion"}

    def served(uri: str, version: str) -> dict[str, str]:
        return {"uri": uri, "version": version, "loaded_at": "2026-01-01T00:00:00+00:00"}

    stale = served_mismatch(card, served("models:/bike-demand@champion", "1"))
    assert stale is not None and "version 1" in stale and "POST /admin/reload" in stale
    pinned = served_mismatch(card, served("models:/bike-demand/1", "1"))
    assert pinned is not None and "pinned" in pinned and "reload" not in pinned
    assert served_mismatch(card, served("models:/bike-demand@champion", "2")) is None
    assert served_mismatch(card, served("models:/bike-demand@challenger", "3")) is None  # not the champion's alias
    assert served_mismatch(card, served("models:/other@champion", "1")) is None
    assert served_mismatch(card, served("runs:/abc/model", "abc")) is None
    assert served_mismatch(None, served("models:/bike-demand@champion", "1")) is None
    assert served_mismatch(card, None) is None


@pytest.mark.slow
def test_dashboard_command_serves_the_local_results(dashboard_home: Path, http_process: Any) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    command = [sys.executable, "-m", "modelmedic", "--home", str(dashboard_home), "dashboard",
               "--port", url.rsplit(":", 1)[1], "--mlflow-ui", "http://mlflow.test:5001"]  # fmt: skip

    with http_process(command, f"{url}/dashboard/data.json", service_env(dashboard_home)):
        body = strict_json(httpx.get(f"{url}/dashboard/data.json", timeout=30).text)
        no_api = httpx.post(f"{url}/predict", json=INSTANCE, timeout=5).status_code

    assert no_api in {404, 405}  # the dashboard alone: no prediction API
    assert len(body["monitor"]["windows"]) == 4
    assert body["model"]["run_url"].startswith("http://mlflow.test:5001/#/experiments/")
