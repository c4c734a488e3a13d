"""The demand model: it learns, beats a naive baseline, and behaves sensibly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelmedic.errors import ConfigError, DataError
from modelmedic.model import build_model, evaluate, feature_frame, predict, seasonal_baseline, train
from modelmedic.performance import regression_metrics
from modelmedic.windows import select_period


@pytest.fixture(scope="module")
def periods(bike: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    return select_period(bike, "2011-01-01", "2011-01-28"), select_period(bike, "2011-01-29", "2011-02-25")


@pytest.mark.parametrize("kind", ["hgb", "rf"])
def test_model_beats_hour_of_day_baseline_on_held_out_weeks(kind: str, periods, bike_schema) -> None:
    reference, holdout = periods
    model = train(reference, bike_schema, kind)
    model_mae = evaluate(model, holdout, bike_schema)["mae"]
    baseline_mae = regression_metrics(holdout["cnt"], seasonal_baseline(reference, holdout, bike_schema))["mae"]
    assert model_mae < 0.8 * baseline_mae


def test_more_data_lowers_training_loss(bike: pd.DataFrame, bike_schema) -> None:
    """Made-With-ML style: the fitted model is far better than an unfitted constant."""
    reference = select_period(bike, "2011-01-01", "2011-01-28")
    model = train(reference, bike_schema, "rf")
    fitted = evaluate(model, reference, bike_schema)["mae"]
    constant = float(np.mean(np.abs(reference["cnt"] - reference["cnt"].mean())))
    assert fitted < 0.3 * constant


def test_behaviour_rush_hour_beats_night(periods, bike_schema) -> None:
    reference, holdout = periods
    model = train(reference, bike_schema, "hgb")
    day = holdout[(holdout["workingday"] == 1)].iloc[:24]
    night, rush = day[day["hr"] == 3], day[day["hr"] == 8]
    assert predict(model, rush, bike_schema)[0] > 3 * predict(model, night, bike_schema)[0]


def test_unseen_category_does_not_crash(periods, bike_schema) -> None:
    reference, holdout = periods
    model = train(reference, bike_schema, "hgb")
    rows = feature_frame(holdout.iloc[:3], bike_schema).copy()
    rows["weathersit"] = 4  # heavy rain: absent from January 2011
    assert np.isfinite(model.predict(rows)).all()


def test_bad_kind_and_params() -> None:
    with pytest.raises(ConfigError, match="hgb, rf"):
        build_model("xgb")
    with pytest.raises(ConfigError, match="bad parameter"):
        build_model("rf", n_trees=3)


def test_no_labels_to_train_on(periods, bike_schema) -> None:
    reference, _ = periods
    unlabelled = reference.assign(cnt=np.nan)
    with pytest.raises(DataError, match="no labelled rows"):
        train(unlabelled, bike_schema, "rf")


def test_feature_frame_has_plain_dtypes(periods, bike_schema) -> None:
    frame = feature_frame(periods[0], bike_schema)
    assert list(frame.columns) == bike_schema.features
    assert not any(isinstance(t, pd.CategoricalDtype) for t in frame.dtypes)
    assert isinstance(periods[0]["season"].dtype, pd.CategoricalDtype)  # input untouched


def test_regression_metrics_known_values() -> None:
    m = regression_metrics(np.array([1.0, 2.0, 4.0]), np.array([2.0, 2.0, 2.0]))
    assert m["mae"] == pytest.approx(1.0)
    assert m["rmse"] == pytest.approx(np.sqrt(5 / 3))
    assert m["bias"] == pytest.approx(-1 / 3)
    assert m["mape"] == pytest.approx((1 + 0 + 0.5) / 3)
    assert m["r2"] == pytest.approx(1 - 5 / (14 / 3))
    assert all(np.isnan(v) for v in regression_metrics([], []).values())
