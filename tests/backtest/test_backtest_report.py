"""A backtest's reports, MLflow runs and CLI."""

from __future__ import annotations

import json

import pandas as pd

from backtest_data import SCHEMA, config, synthetic


def test_reports_and_mlflow_runs(settings, tmp_path):
    from modelmedic import tracking
    from modelmedic.backtest import backtest_and_report

    frame = synthetic(weeks=7, shift_week=4)
    specs = ["never", "periodic:1W+sliding:1W", "performance:1.2"]
    outcome = backtest_and_report(frame, SCHEMA, specs, config(), settings, retrain_cost=2.0)
    folder = settings.reports_dir / "backtest" / "latest"
    assert {p.name for p in folder.iterdir()} == {"backtest.json", "backtest.html", "errors.png", "pareto.png"}
    document = json.loads((folder / "backtest.json").read_text())
    assert document == json.loads(json.dumps(outcome.document))
    assert document["recommendation"]["name"] == "periodic:1W+sliding:1W" and document["recommendation"]["why"]
    first = document["strategies"][0]
    assert {
        "name",
        "mae",
        "rmse",
        "retrains",
        "train_seconds",
        "objective",
        "gap_to_best",
        "pareto",
        "window_mae",
        "retrain_points",
    } <= set(first)
    assert len(first["window_mae"]) == len(document["windows"]) == 5
    assert [p["window"] for p in first["retrain_points"]] == [1, 2, 3, 4]
    html = (folder / "backtest.html").read_text()
    assert html.count('class="plotly-graph-div"') == 2 and "<script src=" not in html  # plotly.js embedded: offline
    assert (folder / "errors.png").read_bytes()[:4] == b"\x89PNG"

    client = tracking.client(settings)
    parent = client.get_run(outcome.run_id)
    assert parent.data.tags["modelmedic.recommendation"] == "periodic:1W+sliding:1W"
    assert {a.path for a in client.list_artifacts(outcome.run_id)} >= {"backtest.json", "errors.png", "pareto.png"}
    children = client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{outcome.run_id}'"
    )
    assert sorted(c.info.run_name for c in children) == sorted(specs)
    child = next(c for c in children if c.info.run_name == "periodic:1W+sliding:1W")
    history = client.get_metric_history(child.info.run_id, "window/mae")
    assert [m.step for m in history] == [0, 1, 2, 3, 4]
    assert history[2].timestamp == int(pd.Timestamp("2020-01-29").timestamp() * 1000)
    assert child.data.metrics["retrains"] == 4


def test_cli_backtest_json_on_the_bike_data(settings):
    from typer.testing import CliRunner

    from modelmedic.cli import app

    args = [
        "backtest",
        "-s",
        "never",
        "-s",
        "periodic:13W+sliding:8W",
        "-s",
        "performance:1.5",
        "--workers",
        "1",
        "--json",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    names = {s["name"] for s in document["strategies"]}
    assert names == {"never", "periodic:13W+sliding:8W", "performance:1.5"}
    never = next(s for s in document["strategies"] if s["name"] == "never")
    assert never["retrains"] == 0 and never["mae"] > min(s["mae"] for s in document["strategies"])
    assert document["recommendation"]["name"] in names and len(document["windows"]) > 100


def test_cli_backtest_rejects_a_bad_strategy_in_one_line(settings):
    from typer.testing import CliRunner

    from modelmedic.cli import app

    result = CliRunner().invoke(app, ["backtest", "-s", "sometimes"])
    assert result.exit_code == 2
    assert "unknown strategy 'sometimes'" in result.output and "Traceback" not in result.output
