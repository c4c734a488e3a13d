"""Drift with the evidently engine (real evidently) and the ``modelmedic drift`` command."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from modelmedic.cli import app
from modelmedic.drift import (
    STATTESTS,
    ColumnDrift,
    DriftOptions,
    DriftResult,
    compare,
    get_engine,
    is_drifted,
    is_numerical,
)
from modelmedic.errors import ConfigError, DriftError

NUMERICAL = ("x", "level", "flag")
CATEGORICAL = ("colour", "weekend")
runner = CliRunner()


def synthetic(n: int, seed: int, *, shifted: bool = False) -> pd.DataFrame:
    """Hourly rows of a continuous, a 3-valued and a binary number, and two categories.

    ``shifted`` moves every column's distribution far from the unshifted one.
    """
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(3.0 if shifted else 0.0, 1.0, n),
            "level": rng.choice([1, 2, 3], n, p=[0.1, 0.1, 0.8] if shifted else [0.4, 0.3, 0.3]),
            "flag": rng.choice([0, 1], n, p=[0.15, 0.85] if shifted else [0.8, 0.2]),
            "colour": pd.Categorical(
                rng.choice(list("abc"), n, p=[0.05, 0.05, 0.9] if shifted else [0.5, 0.3, 0.2]),
                categories=list("abc"),
            ),
            "weekend": pd.Categorical(rng.choice(["no", "yes"], n, p=[0.2, 0.8] if shifted else [0.7, 0.3])),
        },
        index=pd.date_range("2024-01-01", periods=n, freq="h", name="datetime"),
    )


def evidently_drift(reference: pd.DataFrame, current: pd.DataFrame, **options) -> DriftResult:
    numerical = options.pop("numerical", NUMERICAL)
    categorical = options.pop("categorical", CATEGORICAL)
    return compare(reference, current, numerical, categorical, engine="evidently", **options)


def legacy_score(reference: pd.Series, current: pd.Series, column_type: str, test: str, threshold: float) -> float:
    """The score evidently's own legacy test function gives for these data."""
    from evidently.legacy.core import ColumnType

    from modelmedic.drift.evidently_engine import evidently_stattests, usable_values

    kind = ColumnType.Numerical if column_type == "numerical" else ColumnType.Categorical
    result = evidently_stattests()[test](usable_values(reference), usable_values(current), kind, threshold)
    return float(result.drift_score)


SMALL_TESTS = {"x": "ks", "level": "chisquare", "flag": "z", "colour": "chisquare", "weekend": "z"}
LARGE_TESTS = {"x": "wasserstein", **dict.fromkeys(("level", "flag", "colour", "weekend"), "jensenshannon")}


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    return synthetic(600, seed=1)


@pytest.fixture(scope="module")
def large() -> pd.DataFrame:
    return synthetic(3000, seed=1)


@pytest.fixture(scope="module")
def shifted() -> pd.DataFrame:
    return synthetic(300, seed=2, shifted=True)


@pytest.mark.parametrize(("reference_name", "expected_tests"), [("small", SMALL_TESTS), ("large", LARGE_TESTS)])
def test_default_tests_flag_drift_in_both_directions(
    request: pytest.FixtureRequest, shifted: pd.DataFrame, reference_name: str, expected_tests: dict[str, str]
) -> None:
    """<=1000 reference rows: p-value tests; more: distances. Flags right either way."""
    reference = request.getfixturevalue(reference_name)
    same = synthetic(300, seed=3)  # a new draw from the reference's distribution
    stable, drifted = evidently_drift(reference, same), evidently_drift(reference, shifted)
    for column, test in expected_tests.items():
        calm, moved = stable.columns[column], drifted.columns[column]
        assert calm.stattest == moved.stattest == test, column
        assert calm.threshold == moved.threshold == STATTESTS[test].default_threshold
        assert calm.drifted is False and moved.drifted is True, column
        if STATTESTS[test].kind == "p_value":
            assert calm.score > calm.threshold and moved.score < 1e-6, column
        else:
            assert calm.score < calm.threshold and moved.score > 2 * moved.threshold, column
    assert stable.to_dict()["dataset"] == {
        "columns": 5,
        "drifted_columns": 0,
        "share": 0.0,
        "drift_share": 0.5,
        "drifted": False,
    }
    assert drifted.drifted is True and drifted.share == 1.0 and drifted.engine == "evidently"


def test_direction_of_the_verdict() -> None:
    assert is_drifted("ks", 0.01, 0.05) and not is_drifted("ks", 0.2, 0.05)
    assert is_drifted("wasserstein", 0.2, 0.1) and not is_drifted("wasserstein", 0.01, 0.1)


def test_shared_verdict_threshold_and_type_rules() -> None:
    """The rules both engines take from ``drift.base``: NaN is untested, default thresholds, numbers."""
    nan = ColumnDrift.from_score("x", "numerical", "ks", 0.05, math.nan)
    assert (nan.score, nan.drifted, nan.ok) == (None, None, False) and "K-S p_value is undefined" in nan.error
    assert ColumnDrift.from_score("x", "numerical", "wasserstein", 0.1, 0.3).drifted is True
    options = DriftOptions(numerical=("x", "y"), per_column_threshold={"y": 0.2})
    assert options.resolved_threshold("x", "wasserstein") == 0.1 and options.resolved_threshold("y", "ks") == 0.2
    assert is_numerical(pd.Series([1, 2])) and not is_numerical(pd.Series([True, False]))
    assert not is_numerical(pd.Series(["a"]))


def test_stattest_for_every_column(small: pd.DataFrame, shifted: pd.DataFrame) -> None:
    result = evidently_drift(small, shifted, stattest="psi")
    for column, drift in result.columns.items():
        assert (drift.stattest, drift.threshold, drift.drifted) == ("psi", 0.1, True)
        expected = legacy_score(small[column], shifted[column], drift.column_type, "psi", 0.1)
        assert drift.score == pytest.approx(expected, rel=1e-9)


def test_per_column_tests_and_thresholds(small: pd.DataFrame, shifted: pd.DataFrame) -> None:
    result = evidently_drift(
        small,
        shifted,
        stattest="jensenshannon",
        threshold=0.05,
        per_column_stattest={"x": "energy", "level": "wasserstein"},
        per_column_threshold={"x": 100.0, "colour": 0.9},
    )
    x, level, colour, flag = (result.columns[c] for c in ("x", "level", "colour", "flag"))
    # "energy" is evidently's "ed": a distance of about the 3-sigma shift, under a threshold of 100
    assert (x.stattest, x.threshold, x.drifted) == ("energy", 100.0, False) and 0.5 < x.score < 100
    assert x.score == pytest.approx(legacy_score(small["x"], shifted["x"], "numerical", "energy", 100.0), rel=1e-9)
    assert (level.stattest, level.threshold, level.drifted) == ("wasserstein", 0.05, True)
    assert (colour.stattest, colour.threshold, colour.drifted) == ("jensenshannon", 0.9, False)
    assert (flag.stattest, flag.threshold, flag.drifted) == ("jensenshannon", 0.05, True)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"stattest": "nope"}, "unknown stattest 'nope'"),
        ({"stattest": "ks"}, "does not apply to categorical column 'colour'"),
        ({"per_column_stattest": {"x": "chisquare"}}, "does not apply to numerical column 'x'"),
        ({"per_column_threshold": {"elsewhere": 0.1}}, "not tested: elsewhere"),
        ({"drift_share": 0}, "drift share"),
    ],
)
def test_bad_options(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DriftOptions(numerical=NUMERICAL, categorical=CATEGORICAL, **options)


def test_share_counts_only_tested_columns(small: pd.DataFrame, shifted: pd.DataFrame) -> None:
    current = small.iloc[::3].copy()
    current["x"] = shifted["x"].to_numpy()[: len(current)]
    current["level"] = np.nan
    result = evidently_drift(small, current, numerical=("x", "level"), categorical=("colour",))
    assert result.columns["level"].drifted is None and result.columns["level"].score is None
    assert result.to_dict()["dataset"] == {
        "columns": 2,
        "drifted_columns": 1,
        "share": 0.5,
        "drift_share": 0.5,
        "drifted": True,
        "untested_columns": ["level"],
    }
    stricter = evidently_drift(small, current, numerical=("x", "level"), categorical=("colour",), drift_share=0.6)
    assert stricter.share == 0.5 and stricter.drifted is False


def test_constant_columns(small: pd.DataFrame) -> None:
    reference = small.assign(const=7.0)
    same, other = reference.iloc[::3], reference.iloc[::3].assign(const=9.0)
    numerical = (*NUMERICAL, "const")
    assert evidently_drift(reference, same, numerical=numerical).columns["const"].drifted is False
    assert evidently_drift(reference, other, numerical=numerical).columns["const"].drifted is True


def test_all_missing_columns_are_untested_not_stable(small: pd.DataFrame) -> None:
    current = small.iloc[::3].assign(x=np.nan)
    reference = small.assign(colour=pd.Categorical([None] * len(small), categories=list("abc")))
    into_current = evidently_drift(small, current).columns["x"]
    assert (into_current.score, into_current.drifted) == (None, None)
    assert "no non-missing values in the current data" in into_current.error
    assert into_current.to_dict()["score"] is None and into_current.stattest == "ks"
    from_reference = evidently_drift(reference, small.iloc[::3])
    assert from_reference.columns["colour"].drifted is None
    assert "in the reference" in from_reference.columns["colour"].error
    assert from_reference.columns["x"].drifted is False


def test_a_column_evidently_cannot_test_is_untested(small: pd.DataFrame) -> None:
    """evidently's Fisher test needs two categories (and equal sizes): it raises for 'colour' only."""
    shifted = synthetic(len(small), seed=2, shifted=True)
    result = evidently_drift(small, shifted, per_column_stattest={"colour": "fisher_exact", "weekend": "fisher_exact"})
    colour, weekend = result.columns["colour"], result.columns["weekend"]
    assert (colour.stattest, colour.score, colour.drifted) == ("fisher_exact", None, None)
    assert "evidently could not test this column" in colour.error and "binary" in colour.error
    assert (weekend.stattest, weekend.drifted) == ("fisher_exact", True)
    assert [c.column for c in result.tested] == ["x", "level", "flag", "weekend"] and result.drifted is True


@pytest.mark.parametrize("rows", [0, 1, 5])
def test_empty_and_tiny_windows_have_no_verdict(small: pd.DataFrame, rows: int) -> None:
    result = evidently_drift(small, small.iloc[:rows])
    assert result.tested == [] and result.share is None and result.drifted is None
    assert all(c.error.startswith("insufficient data") for c in result.columns.values())
    dataset = result.to_dict()["dataset"]
    assert dataset["drifted"] is None and dataset["columns"] == 0 and len(dataset["untested_columns"]) == 5


@pytest.mark.parametrize("reference_name", ["small", "large"])
def test_category_never_seen_in_the_reference(request: pytest.FixtureRequest, reference_name: str) -> None:
    reference = request.getfixturevalue(reference_name)
    current = reference.iloc[::3].copy()
    colour = current["colour"].astype(str).to_numpy()
    colour[::2] = "purple"
    current["colour"] = pd.Categorical(colour)
    drift = evidently_drift(reference, current).columns["colour"]
    assert drift.drifted is True
    assert drift.score == pytest.approx(
        legacy_score(reference["colour"], current["colour"], "categorical", drift.stattest, drift.threshold)
    )


def test_inputs_are_not_mutated(small: pd.DataFrame, shifted: pd.DataFrame) -> None:
    reference = small.assign(gap=np.where(np.arange(len(small)) % 7 == 0, np.nan, 1.0))
    current = shifted.assign(gap=np.inf)
    before = reference.copy(deep=True), current.copy(deep=True)
    engine = get_engine("evidently", DriftOptions(numerical=(*NUMERICAL, "gap"), categorical=CATEGORICAL))
    engine.fit(reference).calculate(current)
    engine.calculate(current.iloc[:0])
    pd.testing.assert_frame_equal(reference, before[0])
    pd.testing.assert_frame_equal(current, before[1])


def test_missing_columns_are_named(small: pd.DataFrame) -> None:
    engine = get_engine("evidently", DriftOptions(numerical=("x", "speed"), categorical=("mood",)))
    with pytest.raises(DriftError, match="reference lacks the columns speed, mood"):
        engine.fit(small)
    engine = get_engine("evidently", DriftOptions(numerical=("x",))).fit(small)
    with pytest.raises(DriftError, match="current data lacks the columns x"):
        engine.calculate(small.drop(columns="x"))
    with pytest.raises(DriftError, match="not fitted"):
        get_engine("evidently", DriftOptions(numerical=("x",))).calculate(small)
    with pytest.raises(DriftError, match="no rows"):
        get_engine("evidently", DriftOptions(numerical=("x",))).fit(small.iloc[:0])


@pytest.mark.parametrize(
    ("reference_period", "weeks"),
    [(("2011-01-01", "2011-01-28"), [0, 19, 48, 97]), (("2011-01-01", "2011-06-30"), [30, 75])],
)
def test_scores_equal_evidently_on_the_bike_data(
    bike: pd.DataFrame, bike_schema, reference_period: tuple[str, str], weeks: list[int]
) -> None:
    """Every score is what evidently's own test function returns for the same data and test."""
    from evidently.legacy.calculations.stattests.registry import _get_default_stattest
    from evidently.legacy.core import ColumnType

    from modelmedic.drift.evidently_engine import usable_values
    from modelmedic.windows import select_period, windows_after

    reference = select_period(bike, *reference_period)
    options = DriftOptions(numerical=tuple(bike_schema.numerical), categorical=tuple(bike_schema.categorical))
    engine = get_engine("evidently", options).fit(reference)
    windows = windows_after(bike, reference_period[1], "1W")
    for index in weeks:
        current = windows[index].slice(bike)
        result = engine.calculate(current)
        assert len(result.tested) == 11, windows[index].label
        for column, drift in result.columns.items():
            ref, cur = reference[column], current[column]
            expected = legacy_score(ref, cur, drift.column_type, drift.stattest, drift.threshold)
            assert math.isclose(drift.score, expected, rel_tol=1e-9, abs_tol=1e-300), (column, index)
            assert drift.drifted == is_drifted(drift.stattest, drift.score, drift.threshold)
            kind = ColumnType.Numerical if drift.column_type == "numerical" else ColumnType.Categorical
            assert _get_default_stattest(usable_values(ref), usable_values(cur), kind).name == drift.stattest
        if len(reference) <= 1000:  # an independent check of one p-value
            assert result.columns["temp"].score == pytest.approx(
                stats.ks_2samp(reference["temp"], current["temp"]).pvalue, rel=1e-9
            )
    assert {c.stattest for c in result.columns.values()} <= {"ks", "chisquare", "z", "wasserstein", "jensenshannon"}


@pytest.mark.slow
def test_render_html(small: pd.DataFrame, shifted: pd.DataFrame, tmp_path: Path) -> None:
    from modelmedic.drift.evidently_engine import render_html

    reference = small.assign(cnt=small["x"] * 2.0, predicted=small["x"] * 2.1)
    current = shifted.assign(cnt=shifted["x"] * 2.0, predicted=shifted["x"] * 1.5)
    options = DriftOptions(numerical=NUMERICAL, categorical=CATEGORICAL, per_column_stattest={"x": "psi"})
    path = render_html(reference, current, options, tmp_path / "reports" / "week.html", "cnt", "predicted")
    html = path.read_text(encoding="utf-8")
    assert path.stat().st_size > 10_000 and "colour" in html and "Mean Absolute Percentage Error" in html
    with pytest.raises(DriftError, match="insufficient data"):
        render_html(reference, current.iloc[:0], options, tmp_path / "empty.html")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("drift-files")
    paths = {"reference": folder / "reference.csv", "same": folder / "same.parquet", "shifted": folder / "shifted.csv"}
    reference = synthetic(600, seed=1)
    reference.to_csv(paths["reference"], index=False)
    reference.iloc[::3].to_parquet(paths["same"], index=False)
    synthetic(300, seed=2, shifted=True).to_csv(paths["shifted"], index=False)
    return paths


def drift_cli(files: dict[str, Path], current: str, *args: str):
    columns = ["--numerical", "x,level,flag", "--categorical", "colour,weekend"]
    return runner.invoke(
        app, ["drift", str(files["reference"]), str(files[current]), *columns, "--engine", "evidently", *args]
    )


def test_cli_json_shape(files: dict[str, Path]) -> None:
    result = drift_cli(files, "shifted", "--json", "--per-column", "x=psi", "--per-column-threshold", "x=0.2")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["dataset"] == {"columns": 5, "drifted_columns": 5, "share": 1.0, "drift_share": 0.5, "drifted": True}
    assert list(payload["columns"]) == ["x", "level", "flag", "colour", "weekend"]
    x = payload["columns"]["x"]
    assert set(x) == {"type", "stattest", "score", "threshold", "drifted"}
    assert (x["type"], x["stattest"], x["threshold"], x["drifted"]) == ("numerical", "psi", 0.2, True)


def test_cli_fail_on_drift(files: dict[str, Path]) -> None:
    drifted = drift_cli(files, "shifted", "--fail-on-drift")
    assert drifted.exit_code == 3, drifted.output
    assert "dataset drift: 5 of 5 tested columns drifted" in drifted.stdout
    stable = drift_cli(files, "same", "--fail-on-drift", "--drift-share", "0.3")
    assert stable.exit_code == 0, stable.output
    assert "no dataset drift: 0 of 5 tested columns drifted" in stable.stdout


def test_cli_infers_columns_without_names(files: dict[str, Path]) -> None:
    result = runner.invoke(
        app, ["drift", str(files["reference"]), str(files["same"]), "--engine", "evidently", "--json"]
    )
    assert result.exit_code == 0, result.output
    columns = json.loads(result.stdout)["columns"]
    assert {c: v["type"] for c, v in columns.items()} == {
        "x": "numerical",
        "level": "numerical",
        "flag": "numerical",
        "colour": "categorical",
        "weekend": "categorical",
    }


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["--stattest", "nope"], "unknown stattest 'nope'", 2),
        (["--per-column", "x"], "--per-column expects COLUMN=VALUE", 2),
        (["--per-column-threshold", "x=high"], "--per-column-threshold expects COLUMN=VALUE", 2),
        (["--engine", "magic"], "unknown drift engine 'magic'", 2),
        (["--numerical", "x,speed"], "reference lacks the columns speed", 1),
    ],
)
def test_cli_errors_are_one_line(files: dict[str, Path], args: list[str], message: str, code: int) -> None:
    result = drift_cli(files, "shifted", *args)
    assert result.exit_code == code, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1


def test_cli_missing_file(files: dict[str, Path], tmp_path: Path) -> None:
    result = runner.invoke(app, ["drift", str(files["reference"]), str(tmp_path / "nope.csv"), "--engine", "evidently"])
    assert result.exit_code == 1 and "nope.csv not found" in result.output
    assert len(result.output.strip().splitlines()) == 1
