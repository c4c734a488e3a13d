"""The walk-forward replay: no look-ahead, label delays, retraining outcomes, parallel workers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest_data import SCHEMA, START, by_name, config, synthetic
from modelmedic.backtest import parse_strategies, parse_strategy, rank, run_backtest
from modelmedic.backtest.engine import StrategyRun
from modelmedic.retraining.triggers import TRIGGERS, Decision, Trigger

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
