"""The driver side of the ``spark`` engine: evidently's scores from what the Spark queries
returned (:mod:`~modelmedic.drift.spark.queries`) and the reference summaries.

The test choice, thresholds and untested cases are the ``fast`` engine's
(:func:`~modelmedic.drift.fast.column_drift`); categorical columns and numerical columns
binned per value are scored by the ``fast`` engine itself on the counts Spark returned.
K-S, Wasserstein and the tests on Sturges bins read the window's aggregates instead of
its values: the same terms, summed by Spark.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from modelmedic.drift.base import ColumnDrift, DriftOptions, insufficient_data
from modelmedic.drift.fast import (
    DEFAULT_TEST_MAX_UNIQUE,
    TESTS,
    WASSERSTEIN_MIN_NORM,
    column_drift,
    default_stattest,
    ks_p_value_of_statistic,
)
from modelmedic.drift.spark.queries import NumericAggregate
from modelmedic.drift.stats import HISTOGRAM_MIN_UNIQUE, ColumnStats, NumericStats, fill_empty_bins, sturges_edges
from modelmedic.errors import DriftError

PER_VALUE_TESTS = ("z", "chisquare")
BINNED_TESTS = ("jensenshannon", "psi", "kl_div")


@dataclass(frozen=True)
class WindowColumn:
    """One numerical column of one window as Spark measured it.

    Attributes:
        aggregate: The merged-CDF aggregates.
        integer: Whether the window's column holds integers only (no missing values).
    """

    aggregate: NumericAggregate
    integer: bool

    @property
    def stats(self) -> NumericStats | None:
        """The window's full summary, when Spark returned its values (few distinct ones)."""
        if self.aggregate.values is None:
            return None
        values, counts = self.aggregate.values
        return NumericStats(values, counts, self.integer)


def numeric_test(
    ref: ColumnStats | DriftError, cur: WindowColumn | DriftError, column: str, options: DriftOptions
) -> str:
    """The test that runs on ``column``: the one asked for, else evidently's default choice."""
    test = options.column_stattest(column)
    if test is not None:
        return test
    both = not isinstance(ref, DriftError) and not isinstance(cur, DriftError)
    union = cur.aggregate.union if both else 0
    return default_stattest("numerical", ref.n if both else 0, union)


def histogram_edges(test: str, ref: NumericStats, cur: WindowColumn) -> np.ndarray | None:
    """The Sturges bin edges ``test`` counts on for this window, ``None`` when it bins per value
    or reads no bins.

    Raises:
        DriftError: when the range is too narrow for the bins.
    """
    agg = cur.aggregate
    low, high = min(ref.values[0], agg.low), max(ref.values[-1], agg.high)
    if test == "hellinger":
        integer = ref.integer and (cur.integer or agg.union == ref.nunique)
        return sturges_edges(low, high, agg.union, integer)
    if test in BINNED_TESTS and ref.nunique > HISTOGRAM_MIN_UNIQUE:
        return sturges_edges(low, high, ref.n + agg.n, ref.integer and cur.integer)
    return None


def gather_limit(test: str | None, ref: ColumnStats | DriftError, limit: int) -> int:
    """How many distinct window values Spark returns for a column whose test is ``test``
    (``None``: the default choice, which bins per value only below 6 distinct values)."""
    if test is None:
        return DEFAULT_TEST_MAX_UNIQUE
    per_value = test in PER_VALUE_TESTS or (
        test in BINNED_TESTS and isinstance(ref, NumericStats) and ref.nunique <= HISTOGRAM_MIN_UNIQUE
    )
    return limit if per_value else 0


def numeric_column_drift(
    column: str,
    ref: ColumnStats | DriftError,
    cur: WindowColumn | DriftError,
    histogram: np.ndarray | DriftError | None,
    options: DriftOptions,
    limit: int,
) -> ColumnDrift:
    """Test one numerical column of one window as the ``fast`` engine would.

    Args:
        column: The column.
        ref: The reference's summary (or why it has none).
        cur: What Spark measured in the window (or why it could not).
        histogram: The window's counts on :func:`histogram_edges` when the test reads them
            (or why there are none).
        options: The engine's options.
        limit: Most distinct window values Spark returns for tests that bin per value.

    Returns:
        The column's :class:`ColumnDrift`.
    """
    test = numeric_test(ref, cur, column, options)
    threshold = options.resolved_threshold(column, test)

    def untested(message: str) -> ColumnDrift:
        return ColumnDrift(column, "numerical", test, threshold, None, None, message)

    if isinstance(ref, DriftError) or isinstance(cur, DriftError):
        return untested(str(ref if isinstance(ref, DriftError) else cur))
    problem = insufficient_data(ref.n, cur.aggregate.n, options.min_rows)
    if problem:
        return untested(problem)
    stats = cur.stats
    if stats is not None:  # few distinct values: the fast engine scores the full summary
        return column_drift(column, ref, stats, options)
    if isinstance(histogram, DriftError):
        return untested(str(histogram))
    with np.errstate(divide="ignore", invalid="ignore"):
        if test == "ks":
            score = ks_score(ref, cur.aggregate)
        elif test == "wasserstein":
            score = wasserstein_score(ref, cur.aggregate)
        elif histogram is not None:
            score = binned_score(test, ref, cur, histogram)
        else:
            return untested(
                f"the {test} test bins each value and the window holds more than {limit:,} distinct values; "
                "choose ks, wasserstein or hellinger for this column"
            )
    return ColumnDrift.from_score(column, "numerical", test, threshold, score)


def ks_score(ref: NumericStats, agg: NumericAggregate) -> float:
    """scipy's K-S p-value from the largest and smallest CDF gaps (as ``ks_2samp`` picks ``d``)."""
    max_gap = max(agg.max_gap, 0.0)
    min_gap = float(np.clip(-min(agg.min_gap, 0.0), 0, 1))
    d = min_gap if min_gap > max_gap else max_gap
    return ks_p_value_of_statistic(ref.n, agg.n, d)


def wasserstein_score(ref: NumericStats, agg: NumericAggregate) -> float:
    """The Wasserstein distance normed by the reference's standard deviation."""
    norm = max(ref.std, WASSERSTEIN_MIN_NORM)
    if ref.n * (ref.n + agg.n) >= 2**62:  # Spark summed shares, not counts (see the query)
        return agg.wasserstein_sum / norm
    return agg.wasserstein_sum / (ref.n * agg.n) / norm


def binned_score(test: str, ref: NumericStats, cur: WindowColumn, histogram: np.ndarray) -> float:
    """Jensen-Shannon, PSI, KL or Hellinger on Sturges bins: the window's counts from Spark,
    the reference's from its summary."""
    edges = histogram_edges(test, ref, cur)
    assert edges is not None  # the caller counted on these edges
    ref_counts = ref.histogram(edges)
    n_cur = cur.aggregate.n
    if test == "hellinger":
        widths = np.diff(edges)
        ref_density = ref_counts / widths / ref_counts.sum()
        cur_density = histogram / widths / histogram.sum()
        bin_width = (max(edges) - min(edges)) / (len(edges) - 1)
        total = float(np.cumsum(np.sqrt(ref_density * cur_density) * bin_width)[-1])
        return math.sqrt(1 - float(np.clip(total, 0, 1)))
    ref_shares, cur_shares = ref_counts / ref.n, histogram / n_cur
    if test == "jensenshannon":
        # lazy: scipy only for the tests that need it
        from scipy.spatial import distance

        return float(distance.jensenshannon(ref_shares, cur_shares))
    ref_shares, cur_shares = fill_empty_bins(ref_shares), fill_empty_bins(cur_shares)
    if test == "psi":
        return float(np.sum((ref_shares - cur_shares) * np.log(ref_shares / cur_shares)))
    # lazy: scipy only for the tests that need it
    from scipy.stats import entropy

    return float(entropy(ref_shares, cur_shares))


SUPPORTED_TESTS = tuple(TESTS)
