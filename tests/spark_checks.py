"""The ``spark`` engine's comparisons with the ``fast`` engine (drift) and the pandas code
(quality, error), shared by the classic session's tests (``test_drift_spark.py``) and
Spark Connect's (``test_drift_spark_connect.py``): the same checks, whatever kind of
session runs them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from drift_cases import assert_same_results
from modelmedic.drift import DriftOptions, get_engine
from modelmedic.drift.spark.engine import SparkEngine
from modelmedic.drift.spark.queries import window_index
from modelmedic.windows import select_period, windows_after

# one test forced on each numerical column in turn
FORCED_TESTS = ["ks", "wasserstein", "jensenshannon", "psi", "kl_div", "hellinger"]


def bike_case(bike: pd.DataFrame, bike_schema: Any, spark: Any, end: str | None = None) -> tuple:
    """The reference (January 2011), the weekly windows after it up to ``end`` (default: the
    data's end) and the hourly rows up to ``end`` as a Spark frame with a ``datetime`` column."""
    rows = bike.loc[:end] if end else bike
    reference = select_period(bike, "2011-01-01", "2011-01-28")
    windows = windows_after(rows, "2011-01-28", "1W")
    plain = rows.rename_axis("datetime").reset_index()
    plain[list(bike_schema.categorical)] = plain[list(bike_schema.categorical)].astype(object)
    return reference, windows, spark.createDataFrame(plain)


def assert_bike_windows_match(spark: Any, bike: pd.DataFrame, bike_schema: Any, case: tuple, tests: str) -> None:
    """Every window of ``case``, measured in one call of the spark engine, equals the fast
    engine's result; ``tests``: ``default`` (evidently's choice) or ``forced``
    (:data:`FORCED_TESTS` in turn)."""
    reference, windows, data = case
    numerical = (*bike_schema.numerical, bike_schema.target)
    per_column = {c: FORCED_TESTS[i % len(FORCED_TESTS)] for i, c in enumerate(numerical)} if tests == "forced" else {}
    options = DriftOptions(numerical=numerical, categorical=bike_schema.categorical, per_column_stattest=per_column)
    fast = get_engine("fast", options).fit(reference)
    engine = SparkEngine(options, session=spark).fit(reference)
    results = engine.calculate_windows(data, window_index("datetime", windows))
    assert sorted(results) == [w.index for w in windows]
    for window in windows:
        expected = fast.calculate(window.slice(bike))
        assert_same_results(results[window.index], expected)
        assert results[window.index].current_rows == expected.current_rows


def assert_cli_drift_on_a_parquet_folder_matches(tmp_path: Path, bike: pd.DataFrame, spark_args: list[str]) -> None:
    """``modelmedic drift --engine spark`` on a Parquet folder partitioned by day gives the
    scores and verdicts of ``--engine fast`` on the same rows in one file."""
    from modelmedic.cli import app

    runner = CliRunner()
    reference, current = bike.loc[:"2011-01-28"], bike.loc["2011-03-01":"2011-03-31"]
    folder, columns = tmp_path / "current", ["temp", "hum", "cnt", "season"]
    part = current.reset_index(drop=True).assign(day=current.index.strftime("%Y-%m-%d"))
    part[[*columns, "day"]].astype({"season": object}).to_parquet(folder, partition_cols=["day"], index=False)
    reference[columns].astype({"season": object}).to_parquet(tmp_path / "reference.parquet", index=False)
    args = ["drift", str(tmp_path / "reference.parquet"), str(folder), "--numerical", "temp,hum,cnt"]
    args += ["--categorical", "season", "--json"]
    got = runner.invoke(app, [*args, "--engine", "spark", *spark_args])
    assert got.exit_code == 0, got.output
    expected = runner.invoke(app, ["drift", str(tmp_path / "reference.parquet"), str(tmp_path / "fast.parquet")])
    assert expected.exit_code != 0  # no such file: the fast engine reads files only
    current[columns].astype({"season": object}).to_parquet(tmp_path / "fast.parquet", index=False)
    expected = runner.invoke(app, [*args[:2], str(tmp_path / "fast.parquet"), *args[3:], "--engine", "fast"])
    spark_json, fast_json = json.loads(got.stdout), json.loads(expected.stdout)
    assert spark_json["dataset"] == fast_json["dataset"]
    for column, found in spark_json["columns"].items():
        assert found["score"] == pytest.approx(fast_json["columns"][column]["score"], rel=1e-9, abs=1e-12)
        assert found["drifted"] == fast_json["columns"][column]["drifted"]


def assert_quality_and_error_match_pandas(spark: Any) -> None:
    """Each window's data quality and model error, measured by Spark in the jobs that count
    its rows, equal the pandas code's (NaN, infinities, missing labels, constant labels)."""
    from modelmedic.drift.spark.checks import WindowChecks
    from modelmedic.performance import regression_metrics
    from modelmedic.quality import QualityProfile

    rng = np.random.default_rng(3)

    def frame(size: int, shift: float) -> pd.DataFrame:
        data = pd.DataFrame(
            {
                "x": rng.normal(shift, 1, size),
                "n": rng.integers(0, 10, size),
                "cat": rng.choice(["a", "b", "c" if shift else "a"], size).astype(object),
                "y": np.round(rng.normal(5, 2, size), 1),
            }
        )
        data["p"] = data["y"] + rng.normal(shift, 1, size)
        return data

    reference = frame(2_000, 0.0)
    windows = [frame(n, s) for n, s in ((500, 0.0), (700, 2.0), (300, 1.0), (50, 0.5))]
    windows[1].loc[::7, "x"] = np.nan
    windows[1].loc[::11, "x"] = np.inf
    windows[1].loc[::13, "x"] = -np.inf
    windows[1].loc[::5, "y"] = np.nan
    windows[1].loc[::9, "p"] = np.nan
    windows[1].loc[::3, "cat"] = None
    windows[2]["y"] = 0.0  # constant labels: no R², no MAPE
    windows[3]["y"] = np.nan  # no labels at all
    profile = QualityProfile.fit(reference, ["x", "n"], ["cat"])
    checks = WindowChecks(profile, "y", "p")
    options = DriftOptions(numerical=("x", "n", "y", "p"), categorical=("cat",))
    engine = SparkEngine(options, session=spark).fit(reference)
    found = engine.check_frames(windows, checks)
    for window, (_, measured) in zip(windows, found, strict=True):
        assert measured is not None
        assert measured.quality == profile.check(window)
        assert measured.labelled == int(window["y"].notna().sum())
        expected = regression_metrics(window["y"], window["p"])
        assert measured.performance.keys() == expected.keys()
        np.testing.assert_allclose(
            list(measured.performance.values()), list(expected.values()), rtol=1e-12, atol=0, equal_nan=True
        )
    assert found[1][1].quality.non_finite["x"] > 0 and found[1][1].quality.unseen["cat"] > 0


def assert_monitor_tables_match(settings: Any, bike: pd.DataFrame, bike_schema: Any) -> None:
    """A monitoring job to June 2011 with ``engine="spark"`` (on the session the settings
    give) gives the tidy table of ``engine="fast"``: every window, feature, score, verdict, metric."""
    from modelmedic import monitor
    from modelmedic.model import train

    model = train(select_period(bike, "2011-01-01", "2011-01-28"), bike_schema, "rf")
    data = bike.loc[:"2011-06-30"]
    tables = {
        engine: monitor.run(data, bike_schema, model, settings, engine=engine, html="none", track=False).to_df()
        for engine in ("fast", "spark")
    }
    fast, spark_table = tables["fast"], tables["spark"]
    assert len(fast) == len(spark_table) > 100
    kinds = set(spark_table["kind"])
    assert {"drift", "dataset", "performance", "quality"} <= kinds, kinds
    measured = spark_table.query("kind in ('performance', 'quality')")
    assert {"mae", "rmse", "mape", "bias", "r2", "rows", "missing_share"} <= set(measured["metric"])
    exact = ["window", "label", "rows", "status", "kind", "column", "metric", "stattest", "threshold", "drifted"]
    pd.testing.assert_frame_equal(fast[exact], spark_table[exact])
    np.testing.assert_allclose(spark_table["value"], fast["value"], rtol=1e-9, atol=1e-12, equal_nan=True)
