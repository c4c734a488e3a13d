"""Per-column statistics of one data set, the only thing the ``fast`` drift tests read.

A reference and every current window are reduced to the same small summaries, one per
column, and the tests compare two summaries. Any data source can produce them: a pandas
frame (:func:`frame_stats`), a Parquet file read one column at a time
(:func:`~modelmedic.drift.parquet.parquet_stats`), or later a distributed engine (a ``GROUP BY value COUNT(*)``).

- :class:`NumericStats`: the sorted distinct finite values and how often each occurs
  (a weighted sorted sample; enough for K-S, Wasserstein, histograms on any edges).
- :class:`CategoryStats`: the distinct values in order of first appearance and their counts.

Missing values and ±inf are left out, as evidently drops them before testing. The last
part lines two summaries up as evidently's tests see them (shared values, common bins).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np

from modelmedic.drift.base import is_numerical, require_columns
from modelmedic.errors import DriftError

if TYPE_CHECKING:
    import pandas as pd

    from modelmedic.drift.base import ColumnType

HISTOGRAM_MIN_UNIQUE = 20  # evidently bins numerical columns with more distinct reference values


SEARCH_BLOCK = 4096
PARALLEL_ROWS = 200_000  # from this size on, columns are summarised and tested in threads
T = TypeVar("T")


def per_column(columns: list[str], work: Callable[[str], T], rows: int) -> dict[str, T]:
    """``{column: work(column)}``, on all cores for large data (numpy releases the GIL)."""
    workers = min(len(columns), os.cpu_count() or 1)
    if rows < PARALLEL_ROWS or workers < 2:
        return {c: work(c) for c in columns}
    with ThreadPoolExecutor(workers) as pool:
        return dict(zip(columns, pool.map(work, columns), strict=True))


def search_sorted(values: np.ndarray, keys: np.ndarray, side: Literal["left", "right"] = "left") -> np.ndarray:
    """``np.searchsorted(values, keys, side)`` for sorted ``keys``, faster on large inputs.

    Each block of keys searches only the stretch of ``values`` between its first key and
    the next block's, which stays in the CPU cache.
    """
    if len(keys) <= 16 * SEARCH_BLOCK:
        return np.searchsorted(values, keys, side=side)
    out = np.empty(len(keys), dtype=np.intp)
    starts = np.searchsorted(values, keys[::SEARCH_BLOCK], side=side).tolist()
    for block, (low, high) in enumerate(zip(starts, [*starts[1:], len(values)], strict=True)):
        keys_block = slice(block * SEARCH_BLOCK, (block + 1) * SEARCH_BLOCK)
        out[keys_block] = np.searchsorted(values[low:high], keys[keys_block], side=side) + low
    return out


@dataclass(frozen=True, eq=False)
class NumericStats:
    """The finite values of a numerical column as sorted distinct values and their counts.

    Attributes:
        values: Sorted distinct finite values (float64).
        counts: How many times each value occurs (int64, same length); a read-only
            broadcast ``1`` when every value is distinct, which costs no memory.
        integer: Whether the column's dtype is an integer type (numpy bins integers
            differently: a histogram bin is never narrower than 1).
    """

    values: np.ndarray
    counts: np.ndarray
    integer: bool = False
    n: int = field(init=False)
    distinct: bool = field(init=False, repr=False)

    def __post_init__(self) -> None:
        distinct = self.counts.strides == (0,) or bool(np.all(self.counts == 1))
        object.__setattr__(self, "distinct", distinct)
        object.__setattr__(self, "n", len(self.values) if distinct else int(self.counts.sum()))

    @classmethod
    def all_distinct(cls, values: np.ndarray, integer: bool = False) -> NumericStats:
        """Summary of sorted values that are all different (every count is 1)."""
        return cls(values, np.broadcast_to(np.int64(1), values.shape), integer)

    @property
    def nunique(self) -> int:
        """Number of distinct finite values."""
        return len(self.values)

    @cached_property
    def cumulative(self) -> np.ndarray:
        """``cumulative[i]``: how many values lie below ``values[i]``; the last item is ``n``."""
        if self.distinct:
            return np.arange(len(self.values) + 1, dtype=np.int64)
        cumulative = np.zeros(len(self.counts) + 1, dtype=np.int64)
        np.cumsum(self.counts, out=cumulative[1:])
        return cumulative

    def _count_up_to(self, index: np.ndarray) -> np.ndarray:
        return index.astype(np.int64) if self.distinct else self.cumulative[index]

    def count_at_most(self, x: np.ndarray) -> np.ndarray:
        """How many values are ``<= x`` (elementwise; ``x`` sorted)."""
        return self._count_up_to(search_sorted(self.values, x, "right"))

    def count_below(self, x: np.ndarray) -> np.ndarray:
        """How many values are ``< x`` (elementwise; ``x`` sorted)."""
        return self._count_up_to(search_sorted(self.values, x, "left"))

    def histogram(self, edges: np.ndarray) -> np.ndarray:
        """Counts per bin as ``np.histogram(values, edges)``: ``[e_i, e_i+1)``, last bin closed."""
        bounds = self.count_below(edges)
        bounds[-1] = self.count_at_most(edges[-1:])[0]
        return np.diff(bounds)

    def counts_of(self, keys: np.ndarray) -> np.ndarray:
        """The count of each of ``keys`` (sorted floats), 0 for absent ones."""
        at = search_sorted(self.values, keys, "left")
        found = at < len(self.values)
        found[found] = self.values[at[found]] == keys[found]
        out = np.zeros(len(keys), dtype=np.int64)
        out[found] = self.counts[at[found]]
        return out

    @cached_property
    def std(self) -> float:
        """The population standard deviation (two-pass, as pandas' ``std(ddof=0)``)."""
        if self.distinct:
            mean = self.values.sum() / self.n
            return float(np.sqrt(np.sum((self.values - mean) ** 2) / self.n))
        # weighted sums without np.dot, whose BLAS threads would compete with the column threads
        weights = self.counts.astype(np.float64)
        mean = np.sum(self.values * weights) / self.n
        return float(np.sqrt(np.sum((self.values - mean) ** 2 * weights) / self.n))


@dataclass(frozen=True, eq=False)
class CategoryStats:
    """The values of a categorical column and their counts.

    Attributes:
        keys: Distinct values (Python objects) in order of first appearance.
        counts: How many times each occurs (int64, same length).
    """

    keys: tuple[Any, ...]
    counts: np.ndarray

    @property
    def n(self) -> int:
        """Number of non-missing values."""
        return int(self.counts.sum())

    @property
    def nunique(self) -> int:
        """Number of distinct values."""
        return len(self.keys)

    def as_dict(self) -> dict[Any, int]:
        """``{value: count}``."""
        return dict(zip(self.keys, self.counts.tolist(), strict=True))


ColumnStats = NumericStats | CategoryStats


def numeric_stats(series: pd.Series) -> NumericStats:
    """Summarise a numerical column (missing values and ±inf left out).

    Raises:
        DriftError: when the column does not hold numbers.
    """
    # lazy: pandas takes half a second to import; loaded where frames are handled
    import pandas as pd

    if not is_numerical(series):
        raise DriftError(
            f"numerical column '{series.name}' holds {series.dtype} values, not numbers; declare it categorical"
        )
    integer = pd.api.types.is_integer_dtype(series) and not series.hasnans
    extension = isinstance(series.dtype, pd.api.extensions.ExtensionDtype)
    values = series.to_numpy(dtype=np.float64, na_value=np.nan) if extension else series.to_numpy(dtype=np.float64)
    return float_stats(values, integer)


def float_stats(values: np.ndarray, integer: bool) -> NumericStats:
    """Summarise the float64 ``values`` of a numerical column (NaN and ±inf left out);
    ``integer``: whether the column holds integers without missing values."""
    finite = np.isfinite(values)
    values = np.sort(values if finite.all() else values[finite])  # a copy: the data are not touched
    new = np.empty(values.size, dtype=bool)
    new[:1] = True
    np.not_equal(values[1:], values[:-1], out=new[1:])
    if new.all():
        return NumericStats.all_distinct(values, integer)
    starts = np.flatnonzero(new)
    counts = np.diff(np.append(starts, values.size))
    return NumericStats(values[starts], counts.astype(np.int64), integer)


def category_stats(series: pd.Series) -> CategoryStats:
    """Summarise a categorical column (missing values and ±inf left out)."""
    # lazy: pandas takes half a second to import; loaded where frames are handled
    import pandas as pd

    keep = series.notna().to_numpy()
    if not isinstance(series.dtype, pd.CategoricalDtype) or series.cat.categories.dtype.kind in "fc":
        keep &= ~series.isin([np.inf, -np.inf]).to_numpy()
    codes, uniques = pd.factorize(series[keep], sort=False)
    counts = np.bincount(codes, minlength=len(uniques)).astype(np.int64)
    return CategoryStats(tuple(_python_value(v) for v in uniques), counts)


def _python_value(value: Any) -> Any:
    """A numpy scalar as the equal Python scalar (hashing and equality are unchanged)."""
    return value.item() if isinstance(value, np.generic) else value


def column_stats(series: pd.Series, column_type: ColumnType) -> ColumnStats:
    """Summarise one column as ``numerical`` or ``categorical``.

    Raises:
        DriftError: when a numerical column does not hold numbers.
    """
    return numeric_stats(series) if column_type == "numerical" else category_stats(series)


class StatsSource(Mapping[str, "ColumnStats | DriftError"]):
    """Column summaries of one data set, each computed when asked for.

    The ``fast`` engine asks for one column at a time (per thread), so only the columns
    being tested are in memory, not the whole data set. A column that cannot be summarised maps to its
    :class:`DriftError`, so the other columns are still tested.

    Attributes:
        rows: Rows of the data set (missing values included).
    """

    def __init__(self, columns: Sequence[str], summarise: Callable[[str], ColumnStats], rows: int) -> None:
        self._columns = list(columns)
        self._summarise = summarise
        self.rows = rows

    def __getitem__(self, column: str) -> ColumnStats | DriftError:
        if column not in self._columns:
            raise KeyError(column)
        try:
            return self._summarise(column)
        except DriftError as exc:
            return exc

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)


def column_types(numerical: Sequence[str], categorical: Sequence[str]) -> dict[str, ColumnType]:
    """``{column: "numerical" | "categorical"}`` of the named columns."""
    return {c: "numerical" for c in numerical} | {c: "categorical" for c in categorical}


def frame_stats(
    frame: pd.DataFrame, numerical: Sequence[str], categorical: Sequence[str], side: str = "data"
) -> StatsSource:
    """Summaries of the named columns of ``frame`` (called ``side`` in messages).

    Raises:
        DriftError: when ``frame`` lacks one of the columns.
    """
    types = column_types(numerical, categorical)
    require_columns(frame, list(types), side)
    return StatsSource(list(types), lambda c: column_stats(frame[c], types[c]), len(frame))


def weighted_sum(values: np.ndarray, weights: np.ndarray) -> float:
    """``sum(values * weights)``, overwriting ``values`` (float64). Not ``np.dot``: BLAS's
    threads would compete with the engine's own column threads (and scipy sums so too)."""
    return float(np.multiply(values, weights, out=values).sum())


def cumulative_counts(mine: np.ndarray, stats: NumericStats) -> np.ndarray:
    """Along the merged values, how many of ``stats``' values lie at or before each one."""
    if stats.distinct:
        return np.cumsum(mine, dtype=np.int64)
    counts = np.zeros(len(mine), dtype=np.int64)
    counts[mine] = stats.counts
    return np.cumsum(counts, out=counts)


# -- two summaries side by side: shared values, common bins ----------------------------


def union_size(ref: ColumnStats, cur: ColumnStats, cap: int | None = None) -> int:
    """Distinct values over reference and current together (pandas ``nunique``).

    With ``cap``, any count above it may be returned as ``cap + 1`` (cheaper).
    """
    if cap is not None and max(ref.nunique, cur.nunique) > cap:
        return cap + 1
    if isinstance(ref, NumericStats):
        common = int(np.count_nonzero(ref.counts_of(cur.values)))
        return ref.nunique + cur.nunique - common
    return len(set(ref.keys) | set(cur.keys))


def shared_keys(ref: CategoryStats, cur: CategoryStats) -> list[Any]:
    """The category keys in evidently's order (a set union of first-appearance orders)."""
    return list(set(ref.keys) | set(cur.keys))


def aligned_counts(ref: ColumnStats, cur: ColumnStats) -> tuple[np.ndarray, np.ndarray]:
    """Counts of every distinct value of either side, aligned (0 where a side lacks it)."""
    if isinstance(ref, NumericStats):
        keys = np.union1d(ref.values, cur.values)
        return ref.counts_of(keys), cur.counts_of(keys)
    keys = shared_keys(ref, cur)
    ref_counts, cur_counts = ref.as_dict(), cur.as_dict()
    return (
        np.array([ref_counts.get(k, 0) for k in keys], dtype=np.int64),
        np.array([cur_counts.get(k, 0) for k in keys], dtype=np.int64),
    )


def sturges_edges(low: float, high: float, size: int, integer: bool) -> np.ndarray:
    """``np.histogram_bin_edges(data, "sturges")`` from the data's min, max and size.

    Raises:
        DriftError: when the range is too narrow for the bins (numpy raises then too).
    """
    width = (high - low) / (np.log2(size) + 1.0)
    if low == high:
        low, high = low - 0.5, high + 0.5
    if width:
        if integer and width < 1:
            width = 1
        n_bins = int(np.ceil((high - low) / width))
    else:
        n_bins = 1
    edges = np.linspace(low, high, n_bins + 1, endpoint=True)
    if np.any(edges[:-1] >= edges[1:]):
        raise DriftError(f"the range {low}..{high} is too narrow for {n_bins} histogram bins")
    return edges


def fill_empty_bins(shares: np.ndarray) -> np.ndarray:
    """evidently's epsilon for empty bins: min share / 10**6, or 0.0001."""
    smallest = min(shares[shares != 0])
    return np.where(shares == 0, smallest / 10**6 if smallest <= 0.0001 else 0.0001, shares)


def binned_shares(ref: ColumnStats, cur: ColumnStats, fill_zeros: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """evidently's ``get_binned_data``: shares per Sturges bin or per value.

    Numerical columns with more than 20 distinct reference values are binned over
    reference and current together; others get one bin per value seen on either side.
    """
    if isinstance(ref, NumericStats) and ref.nunique > HISTOGRAM_MIN_UNIQUE:
        low, high = min(ref.values[0], cur.values[0]), max(ref.values[-1], cur.values[-1])
        edges = sturges_edges(low, high, ref.n + cur.n, ref.integer and cur.integer)
        ref_counts, cur_counts = ref.histogram(edges), cur.histogram(edges)
    else:
        ref_counts, cur_counts = aligned_counts(ref, cur)
    ref_shares, cur_shares = ref_counts / ref.n, cur_counts / cur.n
    if fill_zeros:
        return fill_empty_bins(ref_shares), fill_empty_bins(cur_shares)
    return ref_shares, cur_shares
