"""The model bank: schedules scored from stored predictions equal walk-forward replays, exactly."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from backtest_data import SCHEMA, START, noisy
from backtest_data import bank_config as config
from modelmedic.backtest import parse_strategies, run_backtest
from modelmedic.backtest.bank import REFERENCE, ModelBank
from modelmedic.backtest.cache import ModelStore
from modelmedic.backtest.schedules import Simulator, evaluate
from modelmedic.errors import ConfigError
from modelmedic.retraining.drift_cache import DriftCache

WINDOWS = ("expanding", "sliding:1W", "sliding:2W", "recency:1W")
# every family with every kind of training window, triggers that fire at different times
FAMILY_SPECS = [
    "never",
    "periodic:1W",
    "periodic:2W+sliding:1W",
    "periodic:3W+recency:1W",
    "performance:1.1+sliding:2W",
    "performance:1.5",
    "drift:0.3+sliding:1W",
    "drift:z+recency:1W",
    "cusum:1+sliding:2W",
    "cusum:2",
    "estimated:1.05+sliding:2W",
    "estimated:1.01",
]


def bank_for(frame: pd.DataFrame, cache_dir=None, **overrides) -> ModelBank:
    return ModelBank(frame, SCHEMA, config(**overrides), WINDOWS, cache_dir).build()


def fired_on_bank_and_replay(specs: list[str], delay: str, kind: Callable[[str], str]) -> set[str]:
    """Score ``specs`` on the bank and by the walk-forward replay, assert they agree exactly
    (retrain weeks, MAE, squared error, per-window MAE), and return the ``kind`` of every
    strategy that retrained."""
    frame = noisy()
    bank = bank_for(frame, label_delay=delay)
    simulator = Simulator(bank, DriftCache("fast", SCHEMA))
    replay = run_backtest(frame, SCHEMA, parse_strategies(specs), config(label_delay=delay))
    fired = set()
    for run in replay.runs:
        scored = simulator.simulate(parse_strategies([run.name])[0])
        assert [w for w, _ in scored.events] == [p.window for p in run.retrain_points], run.name
        assert scored.mae == run.mae and scored.squared_error == run.squared_error, run.name  # exactly
        assert [a / n for a, n in zip(scored.window_abs, run.window_rows, strict=True)] == run.window_mae
        fired |= {kind(run.name) for _ in run.retrain_points}
    return fired


@pytest.mark.parametrize("delay", ["0", "3D"])
def test_every_family_on_the_bank_equals_its_walk_forward_replay_exactly(delay):
    fired = fired_on_bank_and_replay(FAMILY_SPECS, delay, lambda name: name.split(":")[0])
    # the comparison means something only if every family retrained at some point
    assert fired == {"periodic", "performance", "drift", "cusum", "estimated"}


def test_a_schedule_scored_on_the_bank_equals_a_direct_replay():
    frame = noisy()
    bank = bank_for(frame)
    events = [
        (2, bank.model_key("sliding:1W", 2)),
        (3, bank.model_key("expanding", 3)),
        (6, bank.model_key("recency:1W", 6)),
    ]
    scored = evaluate(bank, events)
    # the direct replay trains each model on its rows and predicts its windows
    from modelmedic.retraining.strategies import parse_strategy, training_rows

    store = ModelStore(frame, SCHEMA, config(), bank.windows)
    actual, total, rows = frame["y"].to_numpy(dtype=float), 0.0, 0
    model = store.reference().model
    for w, (lo, hi) in enumerate(store.bounds):
        for at, key in events:
            if at == w:
                policy = key.partition("@")[0]
                cutoff = bank.cutoffs[w]
                chosen, weights = training_rows(
                    parse_strategy(f"periodic:1+{policy}"),
                    frame.iloc[: frame.index.searchsorted(cutoff)],
                    cutoff,
                    SCHEMA,
                )
                model, _ = store.model(key, chosen, weights)
        from modelmedic.model import predict

        error = predict(model, frame.iloc[lo:hi], SCHEMA) - actual[lo:hi]
        total += float(np.abs(error).sum())
        rows += hi - lo
    assert scored.retrains == 3 and scored.abs_error == total and scored.rows == rows
    with pytest.raises(ConfigError, match="increasing"):
        evaluate(bank, events[::-1])


def test_identical_training_sets_share_one_model():
    bank = ModelBank(noisy(), SCHEMA, config(), ("expanding", "sliding:52W"), None).build()
    # a 52-week window over 10 weeks of data is the expanding window: never trained twice
    assert all(
        bank.alias[bank.model_key("sliding:52W", w)] == bank.model_key("expanding", w) for w in bank.retrain_weeks
    )
    assert bank.trained == len(bank.predictions)


def test_the_cache_trains_nothing_twice_and_never_serves_other_data(tmp_path):
    frame = noisy()
    first = bank_for(frame, tmp_path)
    again = bank_for(frame, tmp_path)
    assert first.trained > 0 and again.trained == 0
    for key, (start, values) in first.predictions.items():
        assert again.predictions[key][0] == start
        np.testing.assert_array_equal(again.predictions[key][1], values)
    other = bank_for(frame, tmp_path, params={"n_estimators": 3, "bootstrap": False})
    assert other.trained == first.trained  # other model settings: another cache entry


def test_poisoning_the_future_changes_no_bank_decision_before_it(tmp_path):
    frame = noisy()
    boundary = START + pd.Timedelta(weeks=8)
    poisoned = frame.copy()
    later = poisoned.index >= boundary
    poisoned.loc[later, "y"] *= 1000
    poisoned.loc[later, ["x", "z"]] *= 1000
    # the same cache folder: poisoned data must never be served clean predictions or vice versa
    clean, dirty = bank_for(frame, tmp_path), bank_for(poisoned, tmp_path)
    assert dirty.trained > 0
    first_poisoned = next(w.index for w in clean.windows if w.begin >= boundary)
    lo = clean.bounds[first_poisoned][0]
    for key, (start, values) in clean.predictions.items():
        if dirty.has(key) and start < lo:
            np.testing.assert_array_equal(values[: lo - start], dirty.predict(key, start, lo), err_msg=key)
    a, b = Simulator(clean, DriftCache("fast", SCHEMA)), Simulator(dirty, DriftCache("fast", SCHEMA))
    early = set()
    for spec in FAMILY_SPECS:
        strategy = parse_strategies([spec])[0]
        x, y = a.simulate(strategy), b.simulate(strategy)
        assert [e for e in x.events if e[0] < first_poisoned] == [e for e in y.events if e[0] < first_poisoned], spec
        assert x.window_abs[:first_poisoned] == y.window_abs[:first_poisoned], spec
        assert x.window_abs[first_poisoned:] != y.window_abs[first_poisoned:], f"{spec}: poison had no effect"
        early |= {spec.split(":")[0] for w, _ in x.events if w < first_poisoned}
    assert early >= {"periodic", "performance", "cusum", "estimated", "drift"}


def test_the_reference_model_serves_until_the_first_retrain():
    bank = bank_for(noisy())
    never = evaluate(bank, [], "never")
    replay = run_backtest(noisy(), SCHEMA, parse_strategies(["never"]), config()).runs[0]
    assert never.mae == replay.mae and bank.has(REFERENCE)


# the searched parameters beyond the families' first argument: patience, feature subsets, top-k
PARAMETER_SPECS = [
    "performance:1.1,2+sliding:2W",
    "performance:1.05,3",
    "drift:0.3/z,c+sliding:1W",
    "drift:0.5/x,z",
    "drift:top1+recency:1W",
    "drift:top2",
]


def kind_of(spec: str) -> str:
    arg = spec.partition("+")[0].partition(":")[2]
    return "patience" if "," in arg and "/" not in arg else "subset" if "/" in arg else "top"


@pytest.mark.parametrize("delay", ["0", "3D"])
def test_patience_and_feature_subsets_on_the_bank_equal_their_walk_forward_replay(delay):
    assert fired_on_bank_and_replay(PARAMETER_SPECS, delay, kind_of) == {"patience", "subset", "top"}


def test_patience_waits_for_consecutive_windows_over_the_ratio():
    bank = bank_for(noisy())
    simulator = Simulator(bank, DriftCache("fast", SCHEMA))
    once, twice = (simulator.simulate(parse_strategies([s])[0]) for s in ("performance:1.1", "performance:1.1,2"))
    assert once.events and twice.events and twice.events[0][0] > once.events[0][0]
    assert simulator.simulate(parse_strategies(["performance:1.1,1"])[0]).events == once.events


def test_poisoning_the_future_changes_no_decision_on_patience_or_feature_subsets(tmp_path):
    frame = noisy()
    boundary = START + pd.Timedelta(weeks=8)
    poisoned = frame.copy()
    later = poisoned.index >= boundary
    poisoned.loc[later, "y"] *= 1000
    poisoned.loc[later, ["x", "z"]] *= 1000
    clean, dirty = bank_for(frame, tmp_path), bank_for(poisoned, tmp_path)
    first_poisoned = next(w.index for w in clean.windows if w.begin >= boundary)
    a, b = Simulator(clean, DriftCache("fast", SCHEMA)), Simulator(dirty, DriftCache("fast", SCHEMA))
    replays = [run_backtest(f, SCHEMA, parse_strategies(PARAMETER_SPECS), config()) for f in (frame, poisoned)]
    early = set()
    for spec, x_run, y_run in zip(PARAMETER_SPECS, *(r.runs for r in replays), strict=True):
        strategy = parse_strategies([spec])[0]
        x, y = a.simulate(strategy), b.simulate(strategy)
        assert [e for e in x.events if e[0] < first_poisoned] == [e for e in y.events if e[0] < first_poisoned], spec
        assert x.window_abs[:first_poisoned] == y.window_abs[:first_poisoned], spec
        # the walk-forward replay: the same retrains and errors before the poisoned window
        points = [[p.window for p in r.retrain_points if p.window < first_poisoned] for r in (x_run, y_run)]
        assert points[0] == points[1] and x_run.window_mae[:first_poisoned] == y_run.window_mae[:first_poisoned]
        early |= {kind_of(spec) for w, _ in x.events if w < first_poisoned}
    assert early == {"patience", "subset", "top"}
