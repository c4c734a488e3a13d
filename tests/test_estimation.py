"""Direct Loss Estimation: what it sees (covariate shift) and what it cannot (concept drift)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelmedic import monitor
from modelmedic.errors import DataError
from modelmedic.estimation import LossEstimator
from modelmedic.model import predict, train
from modelmedic.schema import DatasetSchema

SCHEMA = DatasetSchema(name="noisy", datetime="time", target="y", numerical=("x", "z"), categorical=())


def rows(n: int, z_low: float, z_high: float, seed: int, scale: float = 1.0) -> pd.DataFrame:
    """``y = 10 x`` plus noise whose spread grows with ``z`` (times ``scale``: concept drift)."""
    rng = np.random.default_rng(seed)
    x, z = rng.uniform(0, 10, n), rng.uniform(z_low, z_high, n)
    y = scale * 10 * x + rng.normal(0, 1 + 20 * z)
    index = pd.date_range("2020-01-01", periods=n, freq="h")
    return pd.DataFrame({"x": x, "z": z, "y": y}, index=index)


@pytest.fixture(scope="module")
def fitted():
    model = train(rows(2000, 0, 1, seed=1), SCHEMA, "rf", n_estimators=20)
    held = rows(2000, 0, 1, seed=2)
    return model, LossEstimator(SCHEMA).fit(held, predict(model, held, SCHEMA), held["y"])


def realised_and_estimated(fitted, frame) -> tuple[float, float]:
    model, estimator = fitted
    predicted = predict(model, frame, SCHEMA)
    return float(np.abs(predicted - frame["y"]).mean()), float(estimator.estimate(frame, predicted).mean())


def test_it_follows_the_error_into_regions_where_the_model_is_worse(fitted):
    calm, calm_estimate = realised_and_estimated(fitted, rows(1000, 0, 0.2, seed=3))
    rough, rough_estimate = realised_and_estimated(fitted, rows(1000, 0.8, 1, seed=4))
    assert rough > 3 * calm
    assert calm_estimate == pytest.approx(calm, rel=0.25) and rough_estimate == pytest.approx(rough, rel=0.25)


def test_it_cannot_see_concept_drift(fitted):
    same, same_estimate = realised_and_estimated(fitted, rows(1000, 0, 1, seed=5))
    grown, grown_estimate = realised_and_estimated(fitted, rows(1000, 0, 1, seed=5, scale=1.5))
    assert grown > 2 * same  # the target grew for the same features...
    assert grown_estimate == pytest.approx(same_estimate, rel=0.1)  # ...and the estimate did not move


def test_too_few_labels_and_an_unfitted_estimator_are_errors():
    frame = rows(10, 0, 1, seed=6)
    with pytest.raises(DataError, match="too few"):
        LossEstimator(SCHEMA).fit(frame, np.zeros(10), frame["y"])
    with pytest.raises(DataError, match="not fitted"):
        LossEstimator(SCHEMA).estimate(frame, np.zeros(10))


def test_the_monitor_reports_the_estimate_beside_the_realised_mae(settings, bike, bike_schema):
    from modelmedic.windows import select_period

    model = train(select_period(bike, "2011-01-01", "2011-01-28"), bike_schema, "rf", n_estimators=20)
    result = monitor.run(bike.loc[:"2011-05-06"], bike_schema, model, settings, html="none", track=False)
    windows = [w for w in result.windows if "mae" in w.performance]
    assert len(windows) == 14
    for w in windows:
        estimated = w.performance["mae_estimated"]
        assert estimated > 0 and w.performance["mae_estimate_error"] == pytest.approx(estimated - w.performance["mae"])
        assert w.metrics()["perf/mae_estimated"] == estimated
    # spring brings more riders for the same weather: the realised error outgrows the estimate
    last = windows[-1].performance
    assert last["mae"] > 1.5 * last["mae_estimated"]
    unlabelled = monitor.run(
        bike.loc[:"2011-03-11"].drop(columns=["cnt"]), bike_schema, model, settings, html="none", track=False
    )
    assert all("mae_estimated" not in w.performance for w in unlabelled.windows)
