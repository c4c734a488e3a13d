"""``drift.compare_files``: two data files compared as ``modelmedic drift`` compares them; two
Parquet files with the fast engine are read column by column without pandas, with the same
columns, scores, verdicts and inf counts as the files read whole."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from drift_cases import assert_same_results
from modelmedic.drift import compare, compare_files, infer_columns
from modelmedic.errors import DataError


def mixed(rows: int, shift: float, seed: int) -> pd.DataFrame:
    """Columns of every kind a user's file holds, including ints with nulls, inf and a named index."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "temp": rng.normal(shift, 1, rows),
            "count": rng.poisson(5 + shift, rows).astype("int64"),
            "small": rng.integers(0, 4, rows).astype("int8"),
            "holiday": rng.random(rows) < 0.1,
            "season": rng.choice(["winter", "spring", "summer"], rows),
            "weather": pd.Categorical(rng.choice(["clear", "rain"], rows)),
            "when": pd.date_range("2012-01-01", periods=rows, freq="h"),
        },
        index=pd.RangeIndex(rows, name="row") + 1000,
    )
    frame["with_nulls"] = pd.array(rng.integers(0, 9, rows), dtype="Int64")
    frame.loc[frame.index[::17], "with_nulls"] = pd.NA
    frame.loc[frame.index[:5], "temp"] = np.inf
    frame.loc[frame.index[5:7], "temp"] = -np.inf
    return frame


@pytest.fixture
def files(tmp_path):
    reference, current = mixed(3000, 0.0, 1), mixed(2000, 0.4, 2)
    paths = {}
    for name, frame in (("reference", reference), ("current", current)):
        paths[name] = tmp_path / f"{name}.parquet"
        frame.to_parquet(paths[name])  # the named index is saved too, as pandas saves it
    return paths


@pytest.mark.parametrize("named", [False, True], ids=["inferred", "named"])
def test_parquet_files_read_by_columns_give_what_whole_frames_give(files, named) -> None:
    reference, current = pd.read_parquet(files["reference"]), pd.read_parquet(files["current"])
    columns = (["temp", "count"], ["season", "holiday"]) if named else (None, None)
    expected = compare(reference, current, *columns, engine="fast")

    result, non_finite = compare_files(files["reference"], files["current"], *columns, engine="fast")

    assert_same_results(result, expected)
    if not named:
        assert sorted(result.columns) == sorted(c for group in infer_columns(reference) for c in group)
    assert non_finite == {"reference": {"temp": 7}, "current": {"temp": 7}}


def test_csv_files_are_read_whole_and_counted_the_same(tmp_path, files) -> None:
    for name in ("reference", "current"):
        pd.read_parquet(files[name]).to_csv(tmp_path / f"{name}.csv")
    result, non_finite = compare_files(tmp_path / "reference.csv", tmp_path / "current.csv", ["temp"], [])

    assert list(result.columns) == ["temp"]
    assert non_finite == {"reference": {"temp": 7}, "current": {"temp": 7}}


def test_numerical_parquet_columns_are_read_without_pandas(files) -> None:
    """Numbers come from the Arrow buffers; only categorical columns go through pandas."""
    code = (
        "import json, sys\n"
        "from modelmedic.drift import compare_files\n"
        "result, non_finite = compare_files(sys.argv[1], sys.argv[2], ['temp', 'count', 'small', 'with_nulls'])\n"
        "print(json.dumps({'pandas': 'pandas' in sys.modules, 'columns': len(result.columns)}))\n"
    )
    answer = subprocess.run(
        [sys.executable, "-c", code, str(files["reference"]), str(files["current"])],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    seen = json.loads(answer.stdout.strip().splitlines()[-1])
    assert seen["columns"] == 4 and seen["pandas"] is False, (seen, answer.stderr[-2000:])


def test_a_missing_file_is_one_clear_error(tmp_path, files) -> None:
    with pytest.raises(DataError, match="not found"):
        compare_files(files["reference"], tmp_path / "absent.parquet")
