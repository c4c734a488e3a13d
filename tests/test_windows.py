"""Time windows over a DatetimeIndex."""

from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd
import pytest

from modelmedic.errors import ConfigError, DataError
from modelmedic.windows import make_windows, read_batches, select_period, windows_after


def test_weekly_windows_cover_everything_after_the_reference(bike: pd.DataFrame) -> None:
    windows = windows_after(bike, "2011-01-28", "1W")
    assert windows[0].begin == pd.Timestamp("2011-01-29")
    assert len(windows) == 101  # 2011-01-29..2012-12-31: 100 full weeks and 3 days
    covered = sum(len(w.slice(bike)) for w in windows)
    assert covered == len(bike.loc["2011-01-29":])
    assert all(a.end == b.begin for a, b in itertools.pairwise(windows))
    assert windows[0].label == "2011-01-29..2011-02-04"


@pytest.mark.parametrize(("freq", "count"), [("1D", 31), ("1W", 5), ("2W", 3), ("1M", 1)])
def test_frequencies(freq: str, count: int) -> None:
    assert len(make_windows("2011-01-01", "2011-02-01", freq)) == count


@pytest.mark.parametrize("freq", ["week", "0W", "1Y", ""])
def test_bad_frequency(freq: str) -> None:
    with pytest.raises(ConfigError):
        make_windows("2011-01-01", "2011-02-01", freq)


def test_batches_file(tmp_path: Path, bike: pd.DataFrame) -> None:
    path = tmp_path / "batches.csv"
    path.write_text("begin,end\n2011-02-01,2011-02-28\n2011-03-01,2011-03-31\n")
    windows = read_batches(path)
    assert [len(w.slice(bike)) for w in windows] == [len(bike.loc["2011-02"]), len(bike.loc["2011-03"])]
    path.write_text("begin,end\n2011-02-28,2011-02-01\n")
    with pytest.raises(ConfigError, match="row 1"):
        read_batches(path)


def test_select_period(bike: pd.DataFrame) -> None:
    ref = select_period(bike, "2011-01-01", "2011-01-28")
    assert ref.index[-1] == pd.Timestamp("2011-01-28 23:00")
    with pytest.raises(DataError, match="span"):
        select_period(bike, "2015-01-01", "2015-02-01")


def test_last_window_ends_at_midnight(bike: pd.DataFrame) -> None:
    last = windows_after(bike, "2011-01-28", "1W")[-1]
    assert last.end == pd.Timestamp("2013-01-01") and last.label == "2012-12-29..2012-12-31"
