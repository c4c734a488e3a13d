"""A synthetic hourly history whose target is an exact function of its features, and a
small backtest config: shared by the backtest and retraining tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from modelmedic.backtest import BacktestConfig
from modelmedic.backtest.engine import BacktestResult, StrategyRun
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


def bank_config(**overrides) -> BacktestConfig:
    """A four-week reference: the loss estimator of the first model learns from its last two weeks."""
    return config(**{"reference_end": "2020-01-28", **overrides})


def noisy(weeks: int = 12, growth: float = 0.08, seed: int = 3) -> pd.DataFrame:
    """The synthetic series with noise, a weekly growth of the target and a drifting feature."""
    frame = synthetic(weeks=weeks, drift_week=6)
    rng = np.random.default_rng(seed)
    week = np.arange(len(frame)) // 168
    frame["y"] = frame["y"] * (1 + growth * week) + rng.normal(0, 5 + 0.5 * frame["x"].to_numpy())
    return frame
