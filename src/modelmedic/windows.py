"""Time windows (daily/weekly/monthly or explicit batches) over a ``DatetimeIndex``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from modelmedic.errors import ConfigError, DataError

if TYPE_CHECKING:
    import pandas as pd

_ALIASES = {"D": "D", "W": "W", "M": "MS", "MS": "MS", "H": "h", "h": "h"}


@dataclass(frozen=True)
class Window:
    """A half-open time interval ``[begin, end)`` with its position in a sequence."""

    index: int
    begin: pd.Timestamp
    end: pd.Timestamp

    @property
    def label(self) -> str:
        """A readable name such as ``2011-01-29..2011-02-04`` (last day inclusive)."""
        # lazy: pandas costs ~0.4 s to import
        import pandas as pd

        last = self.end - pd.Timedelta(microseconds=1)
        if self.begin.normalize() == self.begin and self.end.normalize() == self.end:
            return f"{self.begin:%Y-%m-%d}..{last:%Y-%m-%d}"
        return f"{self.begin:%Y-%m-%d %H:%M}..{self.end:%Y-%m-%d %H:%M}"

    def slice(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Return the rows of ``frame`` (sorted ``DatetimeIndex``) inside the window."""
        idx = frame.index
        lo = idx.searchsorted(self.begin, side="left")
        hi = idx.searchsorted(self.end, side="left")
        return frame.iloc[lo:hi]


def parse_freq(spec: str) -> pd.DateOffset:
    """Parse ``1D``, ``1W``, ``2W``, ``1M``, ``12H`` into a pandas offset.

    Raises:
        ConfigError: for anything else.
    """
    # lazy: pandas costs ~0.4 s to import
    import pandas as pd

    spec = spec.strip()
    num = spec[:-1] or "1"
    unit = spec[-1:]
    if spec.upper().endswith("MS"):
        num, unit = spec[:-2] or "1", "MS"
    if not num.isdigit() or int(num) < 1 or unit.upper() not in {u.upper() for u in _ALIASES}:
        raise ConfigError(f"window '{spec}' not understood: use a count and a unit, e.g. 1D, 1W, 2W, 1M")
    unit = _ALIASES.get(unit, _ALIASES.get(unit.upper()))
    if unit == "MS":
        return pd.DateOffset(months=int(num))
    if unit == "W":
        return pd.DateOffset(weeks=int(num))
    if unit == "D":
        return pd.DateOffset(days=int(num))
    return pd.DateOffset(hours=int(num))


def parse_time(value: pd.Timestamp | str) -> pd.Timestamp:
    """``value`` as a timestamp (``2011-01-28``, ``2011-01-28 12:00``...).

    Raises:
        ConfigError: when ``value`` is not a date.
    """
    # lazy: pandas costs ~0.4 s to import
    import pandas as pd

    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        stamp = pd.NaT
    if pd.isna(stamp):
        raise ConfigError(f"'{value}' is not a date: use YYYY-MM-DD")
    return stamp


def make_windows(start: pd.Timestamp | str, stop: pd.Timestamp | str, freq: str = "1W") -> list[Window]:
    """Cut ``[start, stop)`` into consecutive windows of ``freq``; the last may be shorter.

    Raises:
        ConfigError: for a bad frequency or an empty interval.
    """
    start, stop = parse_time(start), parse_time(stop)
    if stop <= start:
        raise ConfigError(f"no time to cut into windows between {start} and {stop}")
    step = parse_freq(freq)
    windows: list[Window] = []
    begin = start
    while begin < stop:
        end = min(begin + step, stop)
        windows.append(Window(len(windows), begin, end))
        begin = end
    return windows


def day_end(value: pd.Timestamp | str) -> pd.Timestamp:
    """The exclusive end of an inclusive period end: a bare date means the whole day."""
    # lazy: pandas costs ~0.4 s to import
    import pandas as pd

    stamp = parse_time(value)
    return stamp + pd.Timedelta(days=1) if stamp.normalize() == stamp else stamp


def select_period(frame: pd.DataFrame, start: str | pd.Timestamp, end: str | pd.Timestamp) -> pd.DataFrame:
    """Return the rows from ``start`` to ``end`` (a bare date ``end`` includes that day).

    Raises:
        DataError: when the period holds no rows.
    """
    part = Window(0, parse_time(start), day_end(end)).slice(frame)
    if part.empty:
        raise DataError(
            f"no rows between {start} and {end}; the data span "
            f"{frame.index.min():%Y-%m-%d} to {frame.index.max():%Y-%m-%d}"
        )
    return part


def windows_after(frame: pd.DataFrame, reference_end: pd.Timestamp | str, freq: str = "1W") -> list[Window]:
    """Windows covering every row of ``frame`` after the reference period's (inclusive) end."""
    # lazy: pandas costs ~0.4 s to import
    import pandas as pd

    start = day_end(reference_end)
    last = frame.index.max()
    if last < start:
        return []
    return make_windows(start, last.normalize() + pd.Timedelta(days=1), freq)


def read_batches(path: str | Path) -> list[Window]:
    """Read explicit windows from a CSV file with ``begin,end`` columns (end inclusive days).

    Raises:
        ConfigError: for a missing file, missing columns or unordered dates.
    """
    # lazy: pandas costs ~0.4 s to import
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"batch file {path} not found")
    table = pd.read_csv(path)
    if not {"begin", "end"} <= set(table.columns):
        raise ConfigError(f"{path.name} needs the columns begin,end (one window a row)")
    windows = []
    for i, row in enumerate(table.itertuples(index=False)):
        try:
            begin, end = parse_time(row.begin), day_end(row.end)
        except ConfigError as exc:
            raise ConfigError(f"{path.name} row {i + 1}: {exc}") from None
        if end <= begin:
            raise ConfigError(f"{path.name} row {i + 1}: end {row.end} is not after begin {row.begin}")
        windows.append(Window(i, begin, end))
    return windows
