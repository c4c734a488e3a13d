"""The ``fast`` drift engine gives evidently's numbers: same test, same score, same verdict.

Random data sets (hypothesis) and every weekly window of the real bike data are tested
by both engines; the ``fast`` engine's reference profile survives a save/load round trip,
a Parquet file and an MLflow training run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

from drift_cases import NUMERICAL_TESTS, assert_same, assert_same_results, drift_cases, evidently_column
from modelmedic.drift import DriftOptions, get_engine
from modelmedic.drift.fast import FastEngine
from modelmedic.drift.profile import ReferenceProfile, load_profile_for_model
from modelmedic.drift.stats import PARALLEL_ROWS, sturges_edges
from modelmedic.errors import ConfigError, DataError, DriftError, ModelNotFoundError
from modelmedic.windows import select_period, windows_after


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drift_cases())
def test_random_columns_match_evidently_stattests(case: tuple) -> None:
    reference, current, options = case
    result = get_engine("fast", options).fit(reference).calculate(current)
    assert_same(result, {c: evidently_column(reference[c], current[c], c, options) for c in options.columns})


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drift_cases())
def test_random_columns_match_evidently_engine(case: tuple) -> None:
    reference, current, options = case
    fast = get_engine("fast", options).fit(reference).calculate(current)
    evidently = get_engine("evidently", options).fit(reference).calculate(current)
    assert_same_results(fast, evidently)


def test_edge_cases_match_evidently() -> None:
    reference = pd.DataFrame({"x": [1.0, 1.0, 2.0], "y": ["a", "a", "a"], "z": [0, 1, 2]})
    current = pd.DataFrame({"x": [1.0, 1.0, 1.0], "y": ["a", "b", "b"], "z": [2, 3, 4]})
    for test in NUMERICAL_TESTS:
        options = DriftOptions(
            numerical=("x", "z"),
            categorical=("y",),
            stattest=None,
            min_rows=1,
            per_column_stattest={"x": test, "z": test},
        )
        result = FastEngine(options).fit(reference).calculate(current)
        assert_same(result, {c: evidently_column(reference[c], current[c], c, options) for c in options.columns})
    options = DriftOptions(categorical=("y",), stattest="chisquare", min_rows=1)
    untested = FastEngine(options).fit(reference.iloc[:1]).calculate(current.iloc[:1]).columns["y"]
    assert untested.score is None and "undefined" in (untested.error or "")  # one category: no chi-square
    # integers against floats (a window with gaps): evidently's Hellinger bins stay integer
    integers = pd.DataFrame({"x": [0, 1, 1, 0, 1]})
    floats = pd.DataFrame({"x": [0.0, 0.0, np.nan, 0.0, 1.0]})
    options = DriftOptions(numerical=("x",), stattest="hellinger", min_rows=1)
    expected = evidently_column(integers["x"], floats["x"], "x", options)
    assert expected[1] == 0.0  # one bin: numpy's integer bins are at least 1 wide
    assert_same(FastEngine(options).fit(integers).calculate(floats), {"x": expected})


# -- the real bike data -------------------------------------------------------------------


@pytest.fixture(scope="module")
def bike_case(bike, bike_schema) -> tuple[pd.DataFrame, list, DriftOptions]:
    reference = select_period(bike, "2011-01-01", "2011-01-28")
    options = DriftOptions(numerical=(*bike_schema.numerical, bike_schema.target), categorical=bike_schema.categorical)
    return reference, windows_after(bike, "2011-01-28", "1W"), options


def test_every_bike_window_matches_evidently_stattests(bike, bike_case) -> None:
    reference, windows, options = bike_case
    assert len(windows) > 100 and len(options.columns) == 12
    engine = FastEngine(options).fit(reference)
    for window in windows:
        current = window.slice(bike)
        expected = {c: evidently_column(reference[c], current[c], c, options) for c in options.columns}
        assert_same(engine.calculate(current), expected)


@pytest.mark.slow
def test_bike_windows_match_evidently_engine(bike, bike_case) -> None:
    reference, windows, options = bike_case
    fast = FastEngine(options).fit(reference)
    evidently = get_engine("evidently", options).fit(reference)
    for window in windows:
        current = window.slice(bike)
        assert_same_results(fast.calculate(current), evidently.calculate(current))


# -- profile, Parquet, MLflow ---------------------------------------------------------------


def _mixed_frames() -> tuple[pd.DataFrame, pd.DataFrame, DriftOptions]:
    rng = np.random.default_rng(7)
    frames = [
        pd.DataFrame(
            {
                "x": np.round(rng.normal(shift, 1, size), 2),
                "n": rng.integers(0, 4, size),
                "c": pd.Series(rng.choice(np.array(["a", "b", 3], dtype=object), size), dtype=object),
                "k": pd.Series(rng.choice(["u", "v", "w"], size)).astype("category"),
                "bad": ["text"] * size,
            }
        )
        for size, shift in ((1500, 0.0), (400, 0.2))
    ]
    options = DriftOptions(numerical=("x", "n", "bad"), categorical=("c", "k"))
    return frames[0], frames[1], options


def test_profile_round_trip_gives_the_same_results(tmp_path) -> None:
    reference, current, options = _mixed_frames()
    fitted = FastEngine(options).fit(reference)
    assert fitted.profile is not None
    path = fitted.profile.save(tmp_path / "profile.npz")
    loaded = ReferenceProfile.load(path)
    for stattest in (None, "psi", "hellinger"):
        forced = (
            options if stattest is None else DriftOptions(options.numerical, options.categorical, stattest=stattest)
        )
        expected = FastEngine(forced).fit(reference).calculate(current)
        got = FastEngine.from_profile(loaded, forced).calculate(current)
        assert got.to_dict() == expected.to_dict()
    assert got.columns["bad"].error and got.columns["x"].ok


def test_profile_load_refuses_other_files(tmp_path) -> None:
    with pytest.raises(DataError, match="not found"):
        ReferenceProfile.load(tmp_path / "none.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(DataError, match="not a reference profile"):
        ReferenceProfile.load(tmp_path / "junk.npz")


def test_parquet_input_gives_the_same_results(tmp_path) -> None:
    reference, current, options = _mixed_frames()
    options = DriftOptions(numerical=("x", "n"), categorical=("k",))
    reference[options.columns].to_parquet(tmp_path / "reference.parquet")
    current[options.columns].to_parquet(tmp_path / "current.parquet")
    expected = FastEngine(options).fit(reference).calculate(current)
    got = (
        FastEngine(options).fit_parquet(tmp_path / "reference.parquet").calculate_parquet(tmp_path / "current.parquet")
    )
    assert got.to_dict() == expected.to_dict()
    assert (got.reference_rows, got.current_rows) == (len(reference), len(current))


@pytest.mark.slow
def test_large_data_tested_in_threads_matches_evidently(tmp_path) -> None:
    rng = np.random.default_rng(11)
    rows = PARALLEL_ROWS + 1
    reference = pd.DataFrame({"x": rng.normal(0, 1, rows), "r": np.round(rng.normal(0, 1, rows), 2)})
    current = pd.DataFrame({"x": rng.normal(0.02, 1, rows), "r": np.round(rng.normal(0, 1.1, rows), 2)})
    options = DriftOptions(numerical=("x", "r"))
    result = FastEngine(options).fit(reference).calculate(current)
    assert_same(result, {c: evidently_column(reference[c], current[c], c, options) for c in options.columns})
    reference.to_parquet(tmp_path / "reference.parquet")
    current.to_parquet(tmp_path / "current.parquet")
    streamed = FastEngine(options).fit_parquet(tmp_path / "reference.parquet")
    assert streamed.calculate_parquet(tmp_path / "current.parquet").to_dict() == result.to_dict()


def test_inputs_are_not_mutated() -> None:
    reference, current, options = _mixed_frames()
    before = reference.copy(deep=True), current.copy(deep=True)
    for stattest in (None, "hellinger", "psi"):
        forced = DriftOptions(options.numerical, options.categorical, stattest=stattest)
        FastEngine(forced).fit(reference).calculate(current)
    pd.testing.assert_frame_equal(reference, before[0])
    pd.testing.assert_frame_equal(current, before[1])


def test_untestable_requests_raise_clear_errors() -> None:
    reference, current, _ = _mixed_frames()
    with pytest.raises(ConfigError, match="--engine evidently"):
        FastEngine(DriftOptions(numerical=("x",), stattest="anderson"))
    with pytest.raises(DriftError, match="lacks the columns"):
        FastEngine(DriftOptions(numerical=("nope",))).fit(reference)
    with pytest.raises(DriftError, match="not fitted"):
        FastEngine(DriftOptions(numerical=("x",))).calculate(current)
    with pytest.raises(DriftError, match="no rows"):
        FastEngine(DriftOptions(numerical=("x",))).fit(reference.iloc[:0])


@pytest.mark.parametrize("ties", ["none", "reference", "current", "both"])
@pytest.mark.parametrize("exact", [True, False])
def test_wasserstein_is_scipys_whatever_the_ties(ties: str, exact: bool, monkeypatch) -> None:
    from scipy.stats import wasserstein_distance

    from modelmedic.drift import fast
    from modelmedic.drift.stats import numeric_stats

    if not exact:  # the float path taken beyond int64's range
        monkeypatch.setattr(fast, "EXACT_COUNTS_LIMIT", 0)
    rng = np.random.default_rng(7)
    ref, cur = rng.normal(0, 2, 3000), rng.normal(0.3, 2, 1700)
    if ties in ("reference", "both"):
        ref = np.round(ref, 1)
    if ties in ("current", "both"):
        cur = np.round(cur, 1)
    shared = np.unique(ref)[::5][:15]  # values in both samples
    cur[: len(shared)] = shared
    summaries = numeric_stats(pd.Series(ref)), numeric_stats(pd.Series(cur))
    assert [s.distinct for s in summaries] == [ties in ("none", "current"), ties in ("none", "reference")]

    got = fast.wasserstein_normed(*summaries)

    assert got == pytest.approx(wasserstein_distance(ref, cur) / np.std(ref), rel=1e-12)


def test_sturges_edges_are_numpys() -> None:
    for data in ([0, 1, 2], [5, 5], [0.5, 2.25, 9.0, 9.0], list(range(40))):
        array = np.asarray(data)
        expected = np.histogram_bin_edges(array, bins="sturges")
        got = sturges_edges(float(array.min()), float(array.max()), array.size, array.dtype.kind == "i")
        np.testing.assert_array_equal(got, expected)


@pytest.mark.slow
def test_training_logs_the_reference_profile(trained, settings, bike, bike_schema) -> None:
    profile = load_profile_for_model(trained.model_uri, settings)
    assert profile.columns.keys() == {*bike_schema.features, bike_schema.target}
    assert profile.rows == trained.params["rows_train"]
    assert load_profile_for_model(trained.run_id, settings).rows == profile.rows
    champion = load_profile_for_model(f"models:/{settings.model_name}@champion", settings)
    reference = select_period(bike, settings.reference_start, settings.reference_end)
    window = windows_after(bike, settings.reference_end, "1W")[5].slice(bike)
    expected = FastEngine(profile.options()).fit(reference).calculate(window)
    assert FastEngine.from_profile(champion).calculate(window).to_dict() == expected.to_dict()


def test_load_profile_for_unknown_model_fails_clearly(settings) -> None:
    with pytest.raises(ModelNotFoundError):
        load_profile_for_model("0" * 32, settings)
