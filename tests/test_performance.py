"""Regression metrics, error ratios and the segments where the model fails."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from modelmedic.performance import error_ratio, regression_metrics, segment_errors, worst_segments
from modelmedic.windows import select_period


def test_regression_metrics_by_hand() -> None:
    metrics = regression_metrics([10.0, 20.0, 0.0, 40.0], [12.0, 18.0, 1.0, 40.0])
    assert metrics["mae"] == pytest.approx((2 + 2 + 1 + 0) / 4)
    assert metrics["rmse"] == pytest.approx(math.sqrt((4 + 4 + 1 + 0) / 4))
    assert metrics["mape"] == pytest.approx((0.2 + 0.1 + 0.0) / 3)  # the zero target is skipped
    assert metrics["bias"] == pytest.approx((2 - 2 + 1 + 0) / 4)
    assert metrics["r2"] == pytest.approx(1 - 9 / np.sum((np.array([10, 20, 0, 40]) - 17.5) ** 2))


def test_regression_metrics_without_rows_are_nan() -> None:
    assert all(math.isnan(v) for v in regression_metrics([np.nan], [1.0]).values())


def test_error_ratio() -> None:
    assert error_ratio({"mae": 30.0}, {"mae": 10.0}) == pytest.approx(3.0)
    assert math.isnan(error_ratio({"mae": 30.0}, {"mae": 0.0}))
    assert math.isnan(error_ratio({"mae": 30.0}, {}))
    assert math.isnan(error_ratio({"mae": float("nan")}, {"mae": 3.0}))


def test_segment_errors_by_hand() -> None:
    segments = pd.DataFrame({"hr": [0, 0, 1, 1, 1], "weather": pd.Categorical(["a", "b", "a", "a", "b"])})
    actual = np.array([1.0, 2.0, 3.0, 4.0, np.nan])
    predicted = np.array([2.0, 2.0, 1.0, 8.0, 5.0])  # errors 1, 0, -2, 4 (the NaN row is ignored)
    table = segment_errors(actual, predicted, segments)
    assert list(table.columns) == ["segment", "value", "rows", "mae", "bias"]
    by = table.set_index(["segment", "value"])
    assert by.loc[("hr", "0")].tolist() == [2, 0.5, 0.5]
    assert by.loc[("hr", "1")].tolist() == [2, 3.0, 1.0]
    assert by.loc[("weather", "a")].tolist() == [3, 7 / 3, 1.0]
    assert by.loc[("weather", "b")].tolist() == [1, 0.0, 0.0]


def noisy_predictions(frame: pd.DataFrame, seed: int, hour_bias: dict[int, float] | None = None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    predicted = frame["cnt"].to_numpy(dtype=float) + rng.normal(0, 5, len(frame))
    for hour, bias in (hour_bias or {}).items():
        predicted[frame["hr"].to_numpy() == hour] += bias
    return predicted


@pytest.fixture
def weeks(bike, bike_schema):
    reference = select_period(bike, "2011-01-29", "2011-02-25")
    window = select_period(bike, "2011-06-04", "2011-06-10")
    return reference, window, list(bike_schema.segments)


def test_worst_segments_find_the_injected_segment(weeks) -> None:
    reference, window, segments = weeks
    base = segment_errors(reference["cnt"], noisy_predictions(reference, 1), reference[segments])
    errors = segment_errors(window["cnt"], noisy_predictions(window, 2, {17: 80.0}), window[segments])

    worst = worst_segments(errors, base, top=3)

    assert len(worst) == 3
    assert worst.loc[0, ["segment", "value", "rank"]].tolist() == ["hr", "17", 1]
    assert worst.loc[0, "mae"] == pytest.approx(80.0, abs=5.0)
    assert worst.loc[0, "mae_ratio"] > 10
    assert worst["rank"].tolist() == [1, 2, 3]


def test_worst_segments_rank_by_growth_not_by_size(weeks) -> None:
    """A segment whose error is large in the reference too is not the worst."""
    reference, window, segments = weeks
    base = segment_errors(reference["cnt"], noisy_predictions(reference, 1, {8: 60.0}), reference[segments])
    errors = segment_errors(window["cnt"], noisy_predictions(window, 2, {8: 60.0, 3: 30.0}), window[segments])
    assert worst_segments(errors, base).loc[0, ["segment", "value"]].tolist() == ["hr", "3"]
    assert worst_segments(errors).loc[0, ["segment", "value"]].tolist() == ["hr", "8"]  # by MAE alone


def test_worst_segments_skip_tiny_segments(weeks) -> None:
    _, window, segments = weeks
    predicted = window["cnt"].to_numpy(dtype=float).copy()
    rare = (window["weathersit"] == 3).to_numpy()
    assert 0 < rare.sum() < 10
    predicted[rare] += 500.0
    errors = segment_errors(window["cnt"], predicted, window[segments])
    assert worst_segments(errors, min_rows=1).loc[0, "value"] == "3"
    assert (
        "3"
        not in worst_segments(errors, min_rows=int(rare.sum()) + 1).query("segment == 'weathersit'")["value"].tolist()
    )
