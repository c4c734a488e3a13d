"""The monitoring job on the real bike data, logging to a real MLflow sqlite store."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from typer.testing import CliRunner

from modelmedic import monitor
from modelmedic.cli import app
from modelmedic.errors import ConfigError, DataError, ModelNotFoundError
from modelmedic.monitor.results import INSUFFICIENT, OK, TABLE_COLUMNS
from modelmedic.windows import Window, windows_after

runner = CliRunner()
ENGINES = ["fast", "evidently"]


@pytest.fixture
def six_weeks(bike) -> pd.DataFrame:
    """The reference period and the six weeks after it (2011-01-01..2011-03-11)."""
    return bike.loc[:"2011-03-11"]


def artifact_uri(settings, run_id: str) -> str:
    from mlflow import MlflowClient

    return MlflowClient(settings.resolved_tracking_uri).get_run(run_id).info.artifact_uri


@pytest.fixture(scope="module")
def model(bike, bike_schema):
    """The classic tutorial's random forest, trained on the reference period (not registered)."""
    from modelmedic.model import train
    from modelmedic.windows import select_period

    return train(select_period(bike, "2011-01-01", "2011-01-28"), bike_schema, "rf")


def test_run_logs_a_run_per_window_and_a_summary_series(settings, trained, six_weeks, bike_schema) -> None:
    from mlflow import MlflowClient

    result = monitor.run(six_weeks, bike_schema, settings=settings, engine="fast", html="none")

    windows = windows_after(six_weeks, settings.reference_end, "1W")
    assert [w.window.label for w in result.windows] == [w.label for w in windows]
    assert result.model_version == trained.version
    client = MlflowClient(settings.resolved_tracking_uri)
    experiment = client.get_experiment_by_name(f"{settings.model_name}-monitor")
    assert experiment is not None and experiment.experiment_id == result.experiment_id
    children = client.search_runs([experiment.experiment_id], f"tags.mlflow.parentRunId = '{result.summary_run_id}'")
    assert sorted(r.info.run_name for r in children) == sorted(w.label for w in windows)
    by_name = {r.info.run_name: r for r in children}
    for w in result.windows:
        run = by_name[w.window.label]
        assert run.info.run_id == w.run_id
        assert run.info.status == "FINISHED"
        assert run.data.params["begin"] == w.window.begin.isoformat()
        assert run.data.params["end"] == w.window.end.isoformat()
        assert run.data.tags["modelmedic.model_version"] == trained.version
        assert run.data.tags["modelmedic.reference"] == "2011-01-01..2011-01-28"
        assert run.data.metrics["drift/temp"] == w.drift.columns["temp"].score
        assert run.data.metrics["drift_share"] == pytest.approx(w.drift.share)
        assert run.data.metrics["perf/mae"] == pytest.approx(w.performance["mae"])
        assert run.data.metrics["quality/rows"] == w.rows
        assert "target_drift" in run.data.metrics and "prediction_drift" in run.data.metrics
        assert not client.list_artifacts(w.run_id)  # --html none

    summary = client.get_run(result.summary_run_id)
    assert summary.info.status == "FINISHED"
    history = client.get_metric_history(result.summary_run_id, "drift/temp")
    assert [m.step for m in history] == [w.index for w in windows]
    assert [m.timestamp for m in history] == [int(w.end.timestamp() * 1000) for w in windows]
    assert len(client.get_metric_history(result.summary_run_id, "perf/mae")) == len(windows)
    artifacts = {a.path for a in client.list_artifacts(result.summary_run_id)}
    expected = {
        f"{name}.{ext}"
        for name in ("drift_flags", "drift_scores", "dataset_drift", "drift_share")
        for ext in ("html", "png")
    }
    assert expected | {"results.parquet", "results.csv", "summary.json"} <= artifacts
    assert str(settings.artifact_root) in artifact_uri(settings, result.summary_run_id)

    root = settings.reports_dir / "monitor"
    assert json.loads((root / "latest.json").read_text())["folder"] == result.folder.name
    table = pd.read_parquet(result.folder / "results.parquet")
    assert list(table.columns) == TABLE_COLUMNS
    summary_file = json.loads((result.folder / "summary.json").read_text())
    assert summary_file["mlflow"]["summary_run_id"] == result.summary_run_id
    assert [w["run_id"] for w in summary_file["windows"]] == [w.run_id for w in result.windows]


@pytest.mark.parametrize("engine", ENGINES)
def test_html_policy_drifted_renders_only_drifting_windows(settings, model, six_weeks, bike_schema, engine) -> None:
    from mlflow import MlflowClient

    weeks = windows_after(six_weeks, settings.reference_end, "1W")
    # share of drifted features: 7/11 in the first week, 6/11 in the fifth
    chosen = [weeks[0], weeks[4]]
    result = monitor.run(
        six_weeks, bike_schema, model, settings, engine=engine, windows=chosen, drift_share=0.6, html="drifted"
    )

    assert [w.drift.drifted for w in result.windows] == [True, False]
    client = MlflowClient(settings.resolved_tracking_uri)
    first, second = result.windows
    assert first.html == "windows/window-000.html"
    page = (result.folder / first.html).read_text("utf-8")
    assert len(page) > 10_000 and "weathersit" in page
    assert [a.path for a in client.list_artifacts(first.run_id, "evidently")] == ["evidently/window-000.html"]
    assert second.html is None
    assert not (result.folder / "windows" / "window-004.html").exists()
    assert not client.list_artifacts(second.run_id)


def test_tidy_table_reports_tiny_and_empty_windows_as_insufficient(settings, model, bike, bike_schema) -> None:
    windows = [
        Window(0, pd.Timestamp("2011-02-05"), pd.Timestamp("2011-02-12")),
        Window(1, pd.Timestamp("2011-02-12 00:00"), pd.Timestamp("2011-02-12 05:00")),  # 5 rows
        Window(2, pd.Timestamp("2013-01-01"), pd.Timestamp("2013-01-08")),  # after the data
    ]
    result = monitor.run(bike, bike_schema, model, settings, windows=windows, html="none", track=False)

    statuses = [(w.status, w.verdict, w.rows) for w in result.windows]
    assert statuses[0][0] == OK
    assert statuses[1] == (INSUFFICIENT, INSUFFICIENT, 5)
    assert statuses[2] == (INSUFFICIENT, INSUFFICIENT, 0)
    table = result.to_df()
    assert list(table.columns) == TABLE_COLUMNS
    ok = table.loc[table["window"] == 0]
    assert (ok["kind"] == "drift").sum() == len(bike_schema.features)
    assert set(ok["kind"]) == {"drift", "dataset", "target", "prediction", "performance", "quality", "segment"}
    assert set(ok.loc[ok["kind"] == "performance", "metric"]) == {
        "mae",
        "rmse",
        "mape",
        "bias",
        "r2",
        "mae_ratio",
        "mae_estimated",
        "mae_estimate_error",
    }
    assert ok.loc[ok["kind"] == "segment", "metric"].value_counts()["rank"] == 3
    for index in (1, 2):
        rows = table.loc[table["window"] == index]
        assert set(rows["kind"]) == {"quality"}  # no drift rows: insufficient, not "no drift"
    assert result.summary_run_id is None
    json.dumps(result.to_dict(), default=str, allow_nan=True)


def test_quality_problems_show_in_the_results(settings, model, bike, bike_schema) -> None:
    frame = bike.loc[:"2011-02-11"].copy()
    week = frame.index >= "2011-02-05"
    frame.loc[frame.index[week][:4], "temp"] = float("nan")
    frame.loc[frame.index[week][4:6], "hum"] = 3.0
    frame["weathersit"] = frame["weathersit"].cat.add_categories([7])
    frame.loc[frame.index[week][10], "weathersit"] = 7

    result = monitor.run(frame, bike_schema, model, settings, engine="fast", html="none", track=False)

    last = result.windows[-1]
    assert last.quality.missing["temp"] == 4
    assert last.quality.out_of_range["hum"] >= 2
    assert last.quality.unseen["weathersit"] == 1
    metrics = last.metrics()
    assert metrics["quality/missing/temp"] == 4.0
    assert metrics["quality/unseen/weathersit"] == 1.0
    assert metrics["quality/missing"] == 4.0 and metrics["quality/unseen"] == 1.0
    assert "quality/missing/hum" not in metrics  # zero counts are totals only


def test_engines_give_the_same_scores(settings, model, six_weeks, bike_schema) -> None:
    results = {
        engine: monitor.run(six_weeks, bike_schema, model, settings, engine=engine, html="none", track=False)
        for engine in ENGINES
    }
    fast, slow = (results[e].to_df().query("kind in ['drift', 'target', 'prediction']") for e in ENGINES)
    assert len(fast) == len(slow) > 0
    assert fast["stattest"].tolist() == slow["stattest"].tolist()
    assert fast["drifted"].tolist() == slow["drifted"].tolist()
    for a, b in zip(fast["value"], slow["value"], strict=True):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12)


def test_unlabelled_data_are_monitored_without_performance(settings, model, six_weeks, bike_schema) -> None:
    result = monitor.run(six_weeks.drop(columns=["cnt"]), bike_schema, model, settings, html="none", track=False)
    assert result.reference_error_source == "no labels"
    for w in result.windows:
        assert w.performance == {} and w.target_drift is None
        assert w.prediction_drift is not None and w.prediction_drift.ok
        assert w.verdict in {"ok", "drift"}


@pytest.mark.parametrize("engine", ENGINES)
def test_worker_processes_give_the_same_results_as_one(settings, model, bike, bike_schema, engine) -> None:
    frame = bike.loc[:"2011-04-08"].copy()
    frame.loc["2011-03-05":"2011-03-11", "cnt"] = float("nan")  # a week without labels
    tiny = Window(99, pd.Timestamp("2011-04-08 12:00"), pd.Timestamp("2011-04-08 13:00"))
    windows = [*windows_after(frame, settings.reference_end, "1W"), tiny]
    runs = {
        workers: monitor.run(
            frame,
            bike_schema,
            model,
            settings,
            windows=windows,
            engine=engine,
            html="none",
            track=False,
            workers=workers,
        )
        for workers in (1, 2)
    }
    one, two = (runs[n].to_df() for n in (1, 2))
    pd.testing.assert_frame_equal(one, two)
    assert (one["kind"] == "performance").any() and (one["kind"] == "segment").any()
    assert [w.verdict for w in runs[1].windows] == [w.verdict for w in runs[2].windows]
    assert runs[2].windows[-1].status == INSUFFICIENT


def test_a_global_stattest_and_per_column_overrides(settings, model, six_weeks, bike_schema) -> None:
    result = monitor.run(
        six_weeks,
        bike_schema,
        model,
        settings,
        stattest="psi",
        per_column_stattest={"cnt": "wasserstein"},
        html="none",
        track=False,
    )
    first = result.windows[0]
    assert {c.stattest for c in first.drift.columns.values()} == {"psi"}
    assert first.target_drift.stattest == "wasserstein"
    assert first.prediction_drift.stattest == "psi"
    with pytest.raises(ConfigError, match="does not apply"):
        monitor.run(six_weeks, bike_schema, model, settings, stattest="ks", html="none", track=False)


def test_bad_options_and_a_missing_champion(settings, model, six_weeks, bike_schema) -> None:
    with pytest.raises(ConfigError, match="--html sometimes"):
        monitor.run(six_weeks, bike_schema, model, settings, html="sometimes")
    with pytest.raises(ModelNotFoundError, match="modelmedic train"):
        monitor.run(six_weeks, bike_schema, settings=settings, html="none")


def test_a_failed_job_leaves_no_report_folder_and_no_windows_is_one_error(
    settings, model, six_weeks, bike_schema
) -> None:
    with pytest.raises(ConfigError, match="unknown drift engine"):
        monitor.run(six_weeks, bike_schema, model, settings, engine="nope", html="none", track=False)
    root = settings.reports_dir / "monitor"
    assert not root.exists() or not any(root.iterdir())
    with pytest.raises(DataError, match="no windows given"):
        monitor.run(six_weeks, bike_schema, model, settings, windows=[], html="none", track=False)


def test_cli_monitor_batches_json_and_table(settings, trained, bike_dir, tmp_path, monkeypatch) -> None:
    # MLflow exported the store's URI when training; without it the CLI's settings keep the
    # artifacts in the home folder instead of ./mlruns
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    batches = tmp_path / "batches.csv"
    batches.write_text("begin,end\n2011-02-01,2011-02-28\n2011-06-01,2011-06-30\n")
    args = ["monitor", "--data", str(bike_dir), "--batches", str(batches), "--html", "none"]

    result = runner.invoke(app, [*args, "--json"])

    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert [w["label"] for w in payload["windows"]] == ["2011-02-01..2011-02-28", "2011-06-01..2011-06-30"]
    assert payload["model"]["version"] == trained.version
    assert payload["engine"] == settings.drift_engine
    february, june = payload["windows"]
    assert february["drift"]["dataset"]["columns"] == 11
    assert set(february["drift"]["columns"]["temp"]) >= {"type", "stattest", "score", "threshold", "drifted"}
    assert june["verdict"].startswith("drift")
    assert june["performance"]["mae_ratio"] > 1
    root = settings.reports_dir / "monitor"
    assert json.loads((root / "latest.json").read_text())["summary_run_id"] == payload["mlflow"]["summary_run_id"]

    result = runner.invoke(app, [*args, "--engine", "evidently"])

    assert result.exit_code == 0, result.output
    assert "2011-02-01" in result.stdout and "2011-06-01" in result.stdout
    assert "evidently engine" in result.stdout
    assert "modelmedic ui" in result.stdout
    assert str(settings.artifact_root) in artifact_uri(settings, payload["mlflow"]["summary_run_id"])


def test_cli_monitor_without_champion_is_one_line(settings, bike_dir) -> None:
    result = runner.invoke(app, ["monitor", "--data", str(bike_dir), "--html", "none"])
    assert result.exit_code == 1
    assert "modelmedic train" in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_two_years_weekly_with_the_fast_engine(settings, model, bike, bike_schema) -> None:
    result = monitor.run(bike, bike_schema, model, settings, engine="fast", html="none")
    assert len(result.windows) == len(windows_after(bike, settings.reference_end, "1W")) > 100
    assert all(w.status == OK for w in result.windows)
    summer = [w for w in result.windows if w.window.begin.month in (6, 7, 8)]
    assert all("temp" in w.drift.drifted_columns for w in summer)
    assert sum("degraded" in w.verdict for w in result.windows) > len(result.windows) / 2
    assert all(math.isfinite(w.performance["mae_ratio"]) for w in result.windows)


def test_cli_monitor_reads_the_services_prediction_log(
    settings, trained, bike, bike_schema, bike_dir, tmp_path
) -> None:
    """`monitor --source DATABASE_URL`: logged live traffic becomes the monitored windows."""
    import datetime as dt

    from modelmedic.model import predict
    from modelmedic.service.prediction_log import PredictionStore

    july = bike.loc["2011-07-01":"2011-07-13"]  # summer traffic, logged over 13 days of 2026
    start = dt.datetime(2026, 3, 2)
    url = f"sqlite:///{tmp_path / 'predictions.db'}"
    store = PredictionStore(url).open()
    predictions = predict(trained.model, july, bike_schema)
    rows = [
        {"id": f"p{i}", "created_at": start + dt.timedelta(hours=i), "model_version": trained.version,
         "prediction": float(p), **{c: (row[c].item() if hasattr(row[c], "item") else row[c])
                                    for c in store.feature_types}}
        for i, ((_, row), p) in enumerate(zip(july.iterrows(), predictions, strict=True))
    ]  # fmt: skip
    store.log_predictions(rows)
    store.record_feedback({f"p{i}": float(c) for i, c in enumerate(july["cnt"]) if i < 168})  # first week labelled
    store.close()

    result = runner.invoke(app, ["monitor", "--data", str(bike_dir), "--source", url, "--html", "none", "--json"])

    assert result.exit_code == 0, result.output
    first, second = json.loads(result.stdout)["windows"]
    assert first["label"] == "2026-03-02..2026-03-08" and first["rows"] == 168
    assert first["drift"]["columns"]["temp"]["drifted"] is True  # July against January
    assert first["performance"]["mae"] > 0
    assert "mae" not in second["performance"] or second["performance"]["mae"] is None  # no labels yet
