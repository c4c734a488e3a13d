"""The walk-forward backtest: no look-ahead, label delays, bookkeeping, ranking, reports."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from modelmedic.backtest import BacktestConfig, parse_strategies, parse_strategy, rank, run_backtest
from modelmedic.backtest.engine import BacktestResult, RetrainPoint, StrategyRun
from modelmedic.backtest.ranking import pareto_front
from modelmedic.errors import ConfigError
from modelmedic.retraining.triggers import TRIGGERS, Decision, Trigger
from modelmedic.schema import DatasetSchema

SCHEMA = DatasetSchema(name="synthetic", datetime="time", target="y", numerical=("x", "z"), categorical=("c",))
START = pd.Timestamp("2020-01-01")  # a Wednesday; weekly windows start on 2020-01-15
REFERENCE = {"reference_start": "2020-01-01", "reference_end": "2020-01-14"}


def synthetic(weeks: int = 8, shift_week: int | None = None, shift: float = 200.0, drift_week: int | None = None):
    """Hourly rows whose target is an exact function of the features (so errors are exact).

    ``shift_week``: from that week on (counted from START) the target jumps by ``shift``.
    ``drift_week``: from that week on the feature ``z`` moves far away (feature drift).
    """
    n = weeks * 168
    index = pd.date_range(START, periods=n, freq="h")
    x = (np.arange(n) % 24).astype(float)
    work = (np.arange(n) // 24) % 7 < 5
    z = np.tile(np.linspace(0, 1, 12), n // 12 + 1)[:n]
    y = 10 * x + 50 * work
    frame = pd.DataFrame({"x": x, "z": z, "c": pd.Categorical(np.where(work, "work", "rest")), "y": y}, index=index)
    if shift_week is not None:
        frame.loc[index >= START + pd.Timedelta(weeks=shift_week), "y"] += shift
    if drift_week is not None:
        frame.loc[index >= START + pd.Timedelta(weeks=drift_week), "z"] += 10
    return frame


def config(**overrides) -> BacktestConfig:
    values = {
        **REFERENCE,
        "kind": "rf",
        "params": {"n_estimators": 2, "bootstrap": False},
        "workers": 1,
        "drift_engine": "fast",
    }
    return BacktestConfig(**{**values, **overrides})


def by_name(result: BacktestResult) -> dict[str, StrategyRun]:
    return {r.name: r for r in result.runs}


# -- parsing ---------------------------------------------------------------------------


def test_specs_parse_to_canonical_names():
    names = [
        s.name
        for s in parse_strategies(
            [
                "never",
                "periodic:4W+expanding",
                "drift:0.5+sliding:8W",
                "performance:1.3+recency:4W",
                "incremental",
                "drift:temp,hum",
            ]
        )
    ]
    assert names == [
        "never",
        "periodic:4W",
        "drift:0.5+sliding:8W",
        "performance:1.3+recency:4W",
        "incremental:mlp",
        "drift:temp,hum",
    ]
    assert len(parse_strategies(None)) >= 15


@pytest.mark.parametrize(
    "spec",
    [
        "sometimes",
        "periodic:0",
        "drift:1.5",
        "performance:x",
        "periodic:4W+fresh",
        "incremental:tree",
        "incremental+sliding:4W",
        "periodic:1M",
    ],
)
def test_bad_specs_are_config_errors(spec):
    with pytest.raises(ConfigError):
        parse_strategy(spec)


def test_repeated_specs_are_rejected():
    with pytest.raises(ConfigError, match="twice"):
        parse_strategies(["periodic:4W", "periodic:4W+expanding"])


# -- no look-ahead ---------------------------------------------------------------------


POISON_STRATEGIES = [
    "never",
    "periodic:1W",
    "periodic:2W+sliding:2W",
    "drift:0.5",
    "drift:z+recency:1W",
    "performance:1.2+sliding:1W",
    "cusum:1+sliding:1W",
    "estimated:1.01+sliding:2W",
    "incremental:sgd",
]


def test_poisoning_the_future_changes_no_earlier_prediction():
    frame = synthetic(weeks=9, shift_week=3, drift_week=4)
    boundary = START + pd.Timedelta(weeks=6)  # the start of the 5th backtest window
    poisoned = frame.copy()
    later = poisoned.index >= boundary
    poisoned.loc[later, "y"] *= 1000
    poisoned.loc[later, ["x", "z"]] *= 1000
    poisoned["c"] = poisoned["c"].cat.add_categories("poison")
    poisoned.loc[later, "c"] = "poison"
    strategies = parse_strategies(POISON_STRATEGIES)
    clean, dirty = (
        run_backtest(frame, SCHEMA, strategies, config()),
        run_backtest(poisoned, SCHEMA, strategies, config()),
    )
    before = frame.index < boundary
    first_poisoned = next(w.index for w in clean.windows if w.begin >= boundary)
    retrained = set()
    for a, b in zip(clean.runs, dirty.runs, strict=True):
        np.testing.assert_array_equal(a.predictions[before], b.predictions[before], err_msg=a.name)
        assert a.window_mae[:first_poisoned] == b.window_mae[:first_poisoned], a.name
        assert [(p.window, p.reason, p.rows) for p in a.retrain_points if p.window < first_poisoned] == [
            (p.window, p.reason, p.rows) for p in b.retrain_points if p.window < first_poisoned
        ]
        assert a.window_mae[first_poisoned:] != b.window_mae[first_poisoned:], f"{a.name}: poison had no effect"
        retrained |= {a.name for p in a.retrain_points if p.window < first_poisoned}
    # the test is only meaningful if strategies did retrain before the boundary
    assert {"periodic:1W", "drift:z+recency:1W", "performance:1.2+sliding:1W", "cusum:1+sliding:1W"} <= retrained


class SpyTrigger(Trigger):
    """Records what it was shown and always asks to retrain."""

    name = "spy"
    seen: list = []  # noqa: RUF012  (filled by the test)

    def decide(self, view, deployed, drift):
        labelled = view.labelled()
        known = view.history[view.target].notna()
        SpyTrigger.seen.append(
            {
                "now": view.now,
                "cutoff": view.label_cutoff,
                "last_row": view.history.index.max(),
                "last_label": labelled.index.max(),
                "last_known": view.history.index[known.to_numpy()].max(),
                "latest": (view.latest().index.min(), view.latest().index.max()),
                "has_target_in_latest": view.target in view.latest().columns,
            }
        )
        return Decision(True, "spy")


def test_strategies_see_only_the_past_and_only_known_labels(monkeypatch):
    monkeypatch.setitem(TRIGGERS, "spy", SpyTrigger)
    SpyTrigger.seen = []
    frame = synthetic(weeks=6)
    run_backtest(frame, SCHEMA, [parse_strategy("spy+sliding:1W")], config(label_delay="3D"))
    assert len(SpyTrigger.seen) == 4
    for seen in SpyTrigger.seen:
        assert seen["last_row"] < seen["now"]
        assert seen["cutoff"] == seen["now"] - pd.Timedelta(days=3)
        assert seen["last_label"] < seen["cutoff"] and seen["last_known"] < seen["cutoff"]
        assert seen["latest"][0] >= seen["now"] - pd.Timedelta(weeks=1) and seen["latest"][1] < seen["now"]
        assert not seen["has_target_in_latest"]


def first_retrain(run: StrategyRun) -> pd.Timestamp | None:
    return run.retrain_points[0].at if run.retrain_points else None


def test_a_label_delay_holds_back_the_performance_trigger():
    frame = synthetic(weeks=10, shift_week=5)  # the shift starts with backtest window 3
    shift = START + pd.Timedelta(weeks=5)
    strategies = parse_strategies(["performance:1.2+sliding:1W"])
    prompt = by_name(run_backtest(frame, SCHEMA, strategies, config()))["performance:1.2+sliding:1W"]
    delayed = by_name(run_backtest(frame, SCHEMA, strategies, config(label_delay="7D")))["performance:1.2+sliding:1W"]
    assert first_retrain(prompt) == shift + pd.Timedelta(weeks=1)  # one window of labels shows the jump
    assert first_retrain(delayed) >= shift + pd.Timedelta(days=7)
    assert first_retrain(delayed) == shift + pd.Timedelta(weeks=2)  # + 7 days until those labels exist
    assert "recent MAE" in delayed.retrain_points[0].reason


def test_without_new_labels_a_due_retrain_is_skipped():
    frame = synthetic(weeks=6)
    runs = by_name(run_backtest(frame, SCHEMA, parse_strategies(["periodic:1W"]), config(label_delay="7D")))
    # at the first boundary after deployment no label is newer than the reference model's
    assert [p.window for p in runs["periodic:1W"].retrain_points] == [2, 3]


# -- bookkeeping on series whose best strategy is known ---------------------------------


def test_abrupt_shift_makes_retraining_every_window_win():
    frame = synthetic(weeks=10, shift_week=6)  # the shift starts with backtest window 4
    specs = ["never", "periodic:1W+sliding:1W", "periodic:2W+sliding:1W", "periodic:4W+sliding:1W", "periodic:1W"]
    result = run_backtest(frame, SCHEMA, parse_strategies(specs), config())
    runs = by_name(result)
    n = len(result.windows)
    assert n == 8 and result.evaluated_rows == 8 * 168
    weekly = runs["periodic:1W+sliding:1W"]
    assert weekly.retrains == n - 1 and runs["periodic:2W+sliding:1W"].retrains == (n - 1) // 2
    assert weekly.window_mae == [0.0, 0.0, 0.0, 0.0, 200.0, 0.0, 0.0, 0.0]
    assert weekly.mae == pytest.approx(200 / 8) and weekly.rmse == pytest.approx((200**2 / 8) ** 0.5)
    assert runs["never"].window_mae == [0.0] * 4 + [200.0] * 4 and runs["never"].retrains == 0
    assert weekly.rows == n * 168 and sum(weekly.window_rows) == weekly.rows
    ranking = rank(result, retrain_cost=1.0)
    assert ranking.recommendation == "periodic:1W+sliding:1W"
    assert ranking.best.objective == pytest.approx(25 + 1.0 * 7 / 8)
    assert "periodic:1W+sliding:1W" in ranking.why


@pytest.mark.parametrize("cost", [1e-6, 0.5, 50.0])
def test_stationary_series_makes_never_win_at_any_positive_cost(cost):
    frame = synthetic(weeks=7)
    specs = ["periodic:1W", "never", "periodic:2W+recency:1W", "drift:0.5", "performance:1.1"]
    result = run_backtest(frame, SCHEMA, parse_strategies(specs), config())
    assert all(r.mae < 1e-9 for r in result.runs)  # exact up to float rounding of weights
    ranking = rank(result, retrain_cost=cost)
    assert ranking.recommendation == "never"  # ties (triggers that never fired) go to the simplest
    assert "never" in {r.name for r in ranking.pareto} and all(r.run.retrains == 0 for r in ranking.pareto)


# -- ranking ------------------------------------------------------------------------------


def fake_run(name: str, mae: float, retrains: int) -> StrategyRun:
    points = [RetrainPoint(i, START, "test", 10, 0.1) for i in range(retrains)]
    return StrategyRun(
        name, [mae], [mae], [100], points, np.zeros(1), abs_error=mae * 100, squared_error=mae**2 * 100, rows=100
    )


def fake_result(runs: list[StrategyRun], windows: int = 10, reference_mae: float = 10.0) -> BacktestResult:
    from modelmedic.windows import make_windows

    cuts = make_windows(START, START + pd.Timedelta(weeks=windows), "1W")
    return BacktestResult(runs, cuts, config(), 1.0, 1000, reference_mae)


def test_objective_pareto_front_and_recommendation():
    runs = [fake_run("never", 10, 0), fake_run("weekly", 5, 10), fake_run("wasteful", 6, 20), fake_run("monthly", 7, 2)]
    assert pareto_front(runs) == {"never", "weekly", "monthly"}
    ranking = rank(fake_result(runs), retrain_cost=1.0)
    assert [r.name for r in ranking.rows] == ["weekly", "monthly", "wasteful", "never"]
    assert [round(r.objective, 6) for r in ranking.rows] == [6.0, 7.2, 8.0, 10.0]
    assert [r.gap_to_best for r in ranking.rows] == [0, 2, 1, 5]
    expensive = rank(fake_result(runs), retrain_cost=10.0)
    assert expensive.recommendation == "monthly"  # 7 + 10*2/10 = 9 < 10 (never) < 15 (weekly)
    assert "weekly" in expensive.why and "Pareto" in expensive.why


def test_default_retrain_cost_is_five_percent_of_never():
    ranking = rank(fake_result([fake_run("never", 10, 0)], reference_mae=40.0))
    assert ranking.retrain_cost == pytest.approx(2.0) and "5%" in ranking.cost_source
    with pytest.raises(ConfigError):
        rank(fake_result([fake_run("never", 10, 0)]), retrain_cost=-1)


# -- parallel workers, reports, MLflow, CLI -----------------------------------------------


@pytest.mark.slow
def test_two_worker_processes_give_the_same_results():
    frame = synthetic(weeks=8, shift_week=4, drift_week=5)
    strategies = parse_strategies(POISON_STRATEGIES)
    one = run_backtest(frame, SCHEMA, strategies, config())
    two = run_backtest(frame, SCHEMA, strategies, config(workers=2))
    assert [r.name for r in two.runs] == POISON_STRATEGIES
    for a, b in zip(one.runs, two.runs, strict=True):
        np.testing.assert_array_equal(a.predictions, b.predictions)
        assert [p.reason for p in a.retrain_points] == [p.reason for p in b.retrain_points]


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
