"""Data quality of windows against the reference, on the real bike data."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from modelmedic.errors import DataError
from modelmedic.quality import QualityProfile
from modelmedic.windows import select_period


@pytest.fixture
def profile(bike, bike_schema) -> QualityProfile:
    reference = select_period(bike, "2011-01-01", "2011-01-28")
    return QualityProfile.fit(reference, bike_schema.numerical, bike_schema.categorical)


@pytest.fixture
def week(bike) -> pd.DataFrame:
    """A February week, a copy we may spoil."""
    return select_period(bike, "2011-02-05", "2011-02-11").copy()


def test_profile_learns_reference_ranges_and_categories(profile, bike) -> None:
    reference = select_period(bike, "2011-01-01", "2011-01-28")
    assert profile.ranges["temp"] == (reference["temp"].min(), reference["temp"].max())
    assert profile.categories["season"] == frozenset({1})  # January is winter only
    assert profile.columns[:2] == ["temp", "atemp"]


def test_a_clean_week_has_no_missing_values_and_counts_its_rows(profile, week) -> None:
    result = profile.check(week)
    assert result.rows == len(week) > 0
    assert sum(result.missing.values()) == 0
    assert result.missing_share == 0.0


def test_injected_problems_are_counted_exactly(profile, week) -> None:
    week.loc[week.index[:3], "temp"] = float("nan")
    week.loc[week.index[5:7], "hum"] = 5.0  # humidity is a fraction: far above the reference
    week.loc[week.index[10:12], "windspeed"] = -1.0
    week["weathersit"] = week["weathersit"].cat.add_categories([9])
    week.loc[week.index[20], "weathersit"] = 9
    week.loc[week.index[21], "season"] = 3  # summer, never seen in January

    result = profile.check(week)

    assert result.missing["temp"] == 3
    assert result.out_of_range["hum"] == 2
    assert result.out_of_range["windspeed"] == 2
    assert result.unseen["weathersit"] == 1
    assert result.unseen_values["weathersit"] == ["9"]
    assert result.unseen["season"] == 1
    assert result.missing_share == pytest.approx(3 / (len(week) * len(profile.columns)))
    metrics = result.to_metrics()
    assert metrics["missing/temp"] == 3.0
    assert metrics["out_of_range/hum"] == 2.0
    assert metrics["unseen/weathersit"] == 1.0
    assert metrics["rows"] == float(len(week))
    assert metrics["out_of_range/temp"] == 0.0
    tracked = result.tracked_metrics()
    assert tracked["out_of_range"] == sum(result.out_of_range.values()) >= 4
    assert tracked["unseen"] == 2.0 and tracked["missing"] == 3.0
    assert tracked["missing/temp"] == 3.0 and "missing/hum" not in tracked
    per_column = {k: v for k, v in metrics.items() if "/" in k and v}
    assert per_column == {k: v for k, v in tracked.items() if "/" in k}
    assert any("weathersit: 1 values of unseen categories 9" in issue for issue in result.issues)
    assert result.to_dict()["unseen"] == {"weathersit": ["9"], "season": ["3"]}


def test_missing_values_are_not_out_of_range(profile, week) -> None:
    week["hum"] = float("nan")
    result = profile.check(week)
    assert result.missing["hum"] == len(week)
    assert result.out_of_range["hum"] == 0


def test_an_absent_column_counts_as_missing(profile, week) -> None:
    result = profile.check(week.drop(columns=["windspeed", "holiday"]))
    assert result.missing["windspeed"] == len(week)
    assert result.missing["holiday"] == len(week)
    assert result.out_of_range["windspeed"] == 0


def test_an_empty_window(profile, week) -> None:
    result = profile.check(week.iloc[:0])
    assert result.rows == 0
    assert math.isnan(result.missing_share)
    assert result.issues == []


def test_check_does_not_mutate_the_window(profile, week) -> None:
    before = week.copy()
    profile.check(week)
    pd.testing.assert_frame_equal(week, before)


def test_fit_needs_every_column(bike) -> None:
    with pytest.raises(DataError, match="lacks the columns nope"):
        QualityProfile.fit(bike.iloc[:10], ["temp", "nope"])


def test_non_finite_values_are_counted_apart_from_the_range(profile, week) -> None:
    """``inf`` and ``-inf`` are a finding of their own (drift tests and the model leave them
    out), never silently dropped nor counted twice as out of range."""
    import numpy as np

    week.loc[week.index[:49], "temp"] = np.inf
    week.loc[week.index[60:63], "hum"] = -np.inf
    week.loc[week.index[70], "hum"] = 5.0  # finite and outside the reference range

    result = profile.check(week)

    assert result.non_finite == {**dict.fromkeys(profile.ranges, 0), "temp": 49, "hum": 3}
    assert result.out_of_range["temp"] == 0 and result.out_of_range["hum"] == 1
    assert "temp: 49 non-finite (inf or -inf)" in result.issues
    assert result.to_dict()["non_finite"] == {"temp": 49, "hum": 3}
    tracked = result.tracked_metrics()
    assert tracked["non_finite"] == 52 and tracked["non_finite/temp"] == 49 and "non_finite/atemp" not in tracked


def test_a_reference_holding_inf_keeps_finite_ranges(bike, bike_schema) -> None:
    import numpy as np

    reference = select_period(bike, "2011-01-01", "2011-01-28").copy()
    finite_max = reference["temp"].iloc[5:].max()
    reference.loc[reference.index[:5], "temp"] = np.inf
    fitted = QualityProfile.fit(reference, bike_schema.numerical)
    assert fitted.ranges["temp"][1] == finite_max
