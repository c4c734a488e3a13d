"""The ``fast`` drift engine: evidently 0.7's tests, re-implemented on column summaries.

Every test reads two :mod:`~modelmedic.drift.stats` summaries (reference, current) and
returns evidently's score: the same default test choice, definitions, thresholds and
edge cases (``evidently.legacy.calculations.stattests``), proven equal by
``tests/drift/test_drift_fast.py``. The reference is summarised once in :meth:`FastEngine.fit`
(sorted distinct values and counts), so a window costs one sort of the window plus
searches into the reference: K-S, z, chi-square and the binned tests take
``O(m log n)`` for a window of ``m`` rows; Wasserstein merges the two sorted summaries
(``O(n + m)``, no sort of the reference) to sum the same terms as scipy. Large data
(from :data:`~modelmedic.drift.stats.PARALLEL_ROWS` rows) are summarised and tested column by column on all cores.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from modelmedic.drift.base import (
    ColumnDrift,
    DriftEngine,
    DriftOptions,
    DriftResult,
    insufficient_data,
    register_engine,
)
from modelmedic.drift.parquet import parquet_stats
from modelmedic.drift.profile import ReferenceProfile
from modelmedic.drift.stats import (
    CategoryStats,
    ColumnStats,
    NumericStats,
    StatsSource,
    aligned_counts,
    binned_shares,
    cumulative_counts,
    frame_stats,
    per_column,
    shared_keys,
    sturges_edges,
    union_size,
    weighted_sum,
)
from modelmedic.errors import ConfigError, DriftError

if TYPE_CHECKING:
    import pandas as pd

    from modelmedic.drift.base import ColumnType

SMALL_REFERENCE = 1000  # evidently: references up to this size get p-value tests
WASSERSTEIN_MIN_NORM = 0.001
DEFAULT_TEST_MAX_UNIQUE = 5  # the default choice only tells apart 1-2, 3-5 and more distinct values


# -- the tests: (reference, current) -> evidently's score ------------------------------


def ks_p_value(ref: NumericStats, cur: NumericStats) -> float:
    """Two-sided two-sample Kolmogorov-Smirnov p-value (``scipy.stats.ks_2samp``, auto mode).

    The statistic is the largest CDF gap, found at the window's values and just below
    them (searches into the reference), with the same integer ratios scipy compares.
    """
    n1, n2 = ref.n, cur.n
    cur_cum = cur.cumulative
    at = ref.count_at_most(cur.values) / n1 - cur_cum[1:] / n2
    below = ref.count_below(cur.values) / n1 - cur_cum[:-1] / n2
    max_gap = max(float(at.max()), float(below.max()), 0.0)
    min_gap = float(np.clip(-min(float(at.min()), 0.0), 0, 1))
    d = min_gap if min_gap > max_gap else max_gap
    return _ks_p_value(n1, n2, d, ref, cur)


def _ks_p_value(n1: int, n2: int, d: float, ref: NumericStats, cur: NumericStats) -> float:
    # lazy: scipy.stats only when a K-S test is chosen
    from scipy import stats

    try:
        # lazy: optional, guarded by ImportError
        from scipy.stats._stats_py import _attempt_exact_2kssamp  # noqa: F401
    except ImportError:  # scipy moved its helper: run the public function on the samples
        return float(stats.ks_2samp(np.repeat(ref.values, ref.counts), np.repeat(cur.values, cur.counts))[1])
    return ks_p_value_of_statistic(n1, n2, d)


def ks_p_value_of_statistic(n1: int, n2: int, d: float) -> float:
    """scipy's two-sided K-S p-value of the statistic ``d`` for samples of ``n1`` and ``n2``
    values: exact up to 10,000 values a side, else asymptotic (``ks_2samp``'s auto mode).

    Raises:
        ImportError: when scipy lacks its private ``_attempt_exact_2kssamp``.
    """
    # lazy: scipy.stats only when a K-S test is chosen
    from scipy import stats
    from scipy.stats._stats_py import _attempt_exact_2kssamp

    prob = -np.inf
    exact = max(n1, n2) <= 10000
    if exact:
        exact, d, prob = _attempt_exact_2kssamp(n1, n2, math.gcd(n1, n2), d, "two-sided")
    if not exact:
        m, n = sorted([float(n1), float(n2)], reverse=True)
        prob = stats.distributions.kstwo.sf(d, np.round(m * n / (m + n)))
    return float(np.clip(prob, 0, 1))


# largest n_ref * (n_ref + n_cur) whose integer CDF difference cannot overflow int64
EXACT_COUNTS_LIMIT = 2**62


def wasserstein_normed(ref: NumericStats, cur: NumericStats) -> float:
    """Wasserstein-1 distance divided by ``max(std(reference), 0.001)``.

    The two sorted summaries are merged (a stable argsort of the two sorted runs is one
    linear merge) and the integral sums ``|F_ref - F_cur| * gap`` over the merged values,
    as scipy does. Where a value occurs in both, the order of its two copies does not
    matter: the gap between them is zero. The CDF difference is kept in integers,
    ``n_cur * count_ref - n_ref * count_cur``, exact where scipy rounds twice.
    """
    values = np.concatenate([ref.values, cur.values])
    order = np.argsort(values, kind="stable")
    widths = np.diff(values[order])
    del values  # large inputs: keep at most a few merged-size arrays alive
    is_ref = order < ref.nunique
    del order
    if ref.n * (ref.n + cur.n) >= EXACT_COUNTS_LIMIT:  # beyond int64: the CDFs as floats
        gap = cumulative_counts(is_ref, ref)[:-1] / ref.n
        gap -= cumulative_counts(np.logical_not(is_ref, out=is_ref), cur)[:-1] / cur.n
        return weighted_sum(np.abs(gap, out=gap), widths) / max(ref.std, WASSERSTEIN_MIN_NORM)
    gap = cumulative_counts(is_ref, ref)[:-1]
    if cur.distinct:  # the current values counted so far: the merged ones that are not reference
        seen = np.arange(1, len(is_ref), dtype=np.int64)
        seen -= gap if ref.distinct else np.cumsum(is_ref[:-1], dtype=np.int64)
    else:
        seen = cumulative_counts(np.logical_not(is_ref, out=is_ref), cur)[:-1]
    gap *= cur.n
    seen *= ref.n
    gap -= seen
    del seen
    distance = weighted_sum(np.abs(gap, out=gap).astype(np.float64), widths) / (ref.n * cur.n)
    return distance / max(ref.std, WASSERSTEIN_MIN_NORM)


def z_p_value(ref: ColumnStats, cur: ColumnStats) -> float:
    """Two-sided z-test of the share of the smallest value (evidently's ``z``)."""
    if ref.nunique == 1 and cur.nunique == 1 and _first(ref) == _first(cur):
        return 1.0
    if isinstance(ref, NumericStats):
        key = min(ref.values[0], cur.values[0])
        ref_key, cur_key = ref.counts_of(np.array([key]))[0], cur.counts_of(np.array([key]))[0]
    else:
        try:
            key = sorted(set(ref.keys) | set(cur.keys))[0]
        except TypeError as exc:
            raise DriftError(f"the z-test orders the categories, which cannot be compared: {exc}") from None
        ref_key, cur_key = ref.as_dict().get(key, 0), cur.as_dict().get(key, 0)
    # lazy: scipy.special only, the normal CDF of scipy.stats.norm
    from scipy.special import ndtr

    n1, n2 = ref.n, cur.n
    p1, p2 = float(n1 - ref_key) / n1, float(n2 - cur_key) / n2
    pooled = float(p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    return float(2 * (1 - ndtr(np.abs(z))))


def _first(stats: ColumnStats) -> Any:
    return stats.values[0] if isinstance(stats, NumericStats) else stats.keys[0]


def chisquare_p_value(ref: ColumnStats, cur: ColumnStats) -> float:
    """Pearson chi-square p-value of current counts against reference shares."""
    # lazy: scipy.stats only when a chi-square test is chosen
    from scipy.stats import chisquare

    ref_counts, cur_counts = aligned_counts(ref, cur)
    expected = ref_counts * (cur.n / ref.n)
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(chisquare(cur_counts, expected)[1])


def jensenshannon_distance(ref: ColumnStats, cur: ColumnStats) -> float:
    """Jensen-Shannon distance (natural log) of the binned shares (no epsilon), computed as
    ``scipy.spatial.distance.jensenshannon`` does (scipy.spatial would cost an import)."""
    # lazy: scipy.special only, for the chosen tests
    from scipy.special import rel_entr

    p, q = binned_shares(ref, cur, fill_zeros=False)
    p, q = p / np.sum(p), q / np.sum(q)
    m = (p + q) / 2.0
    return float(np.sqrt((np.sum(rel_entr(p, m)) + np.sum(rel_entr(q, m))) / 2.0))


def psi_value(ref: ColumnStats, cur: ColumnStats) -> float:
    """Population stability index of the binned shares."""
    ref_shares, cur_shares = binned_shares(ref, cur)
    return float(np.sum((ref_shares - cur_shares) * np.log(ref_shares / cur_shares)))


def kl_divergence(ref: ColumnStats, cur: ColumnStats) -> float:
    """Kullback-Leibler divergence (reference || current) of the binned shares, computed as
    ``scipy.stats.entropy`` does (scipy.stats would cost an import)."""
    # lazy: scipy.special only, for the chosen tests
    from scipy.special import rel_entr

    p, q = binned_shares(ref, cur)
    return float(np.sum(rel_entr(p / np.sum(p), q / np.sum(q))))


def hellinger_distance(ref: ColumnStats, cur: ColumnStats) -> float:
    """Hellinger distance of value shares (categorical) or Sturges densities (numerical).

    Numerical bins span the distinct values of both sides with Sturges' rule on their
    number; the sum runs bin by bin as evidently's loop does.
    """
    if isinstance(ref, CategoryStats):
        ref_counts, cur_counts = ref.as_dict(), cur.as_dict()
        total = 0.0
        for key in shared_keys(ref, cur):
            total += math.sqrt(float(ref_counts.get(key, 0) / ref.n) * float(cur_counts.get(key, 0) / cur.n))
    else:
        low, high = min(ref.values[0], cur.values[0]), max(ref.values[-1], cur.values[-1])
        size = union_size(ref, cur)
        # evidently bins the set of both sides' values: integers when the reference's are
        # and the current side (integers too, or floats) adds no value of its own
        integer = ref.integer and (cur.integer or size == ref.nunique)
        edges = sturges_edges(low, high, size, integer)
        widths = np.diff(edges)
        ref_counts, cur_counts = ref.histogram(edges), cur.histogram(edges)
        ref_density = ref_counts / widths / ref_counts.sum()
        cur_density = cur_counts / widths / cur_counts.sum()
        bin_width = (max(edges) - min(edges)) / (len(edges) - 1)
        total = float(np.cumsum(np.sqrt(ref_density * cur_density) * bin_width)[-1])
    return math.sqrt(1 - float(np.clip(total, 0, 1)))


StatFunction = Callable[[Any, Any], float]
TESTS: dict[str, StatFunction] = {
    "ks": ks_p_value,
    "wasserstein": wasserstein_normed,
    "z": z_p_value,
    "chisquare": chisquare_p_value,
    "jensenshannon": jensenshannon_distance,
    "psi": psi_value,
    "kl_div": kl_divergence,
    "hellinger": hellinger_distance,
}


def default_stattest(column_type: ColumnType, reference_size: int, n_unique: int) -> str:
    """evidently 0.7's default test for a column (``_get_default_stattest``).

    ``n_unique`` counts distinct values over reference and current together.
    """
    if reference_size <= SMALL_REFERENCE:
        if column_type == "numerical" and n_unique > DEFAULT_TEST_MAX_UNIQUE:
            return "ks"
        return "chisquare" if n_unique > 2 else "z"
    if column_type == "numerical" and n_unique > DEFAULT_TEST_MAX_UNIQUE:
        return "wasserstein"
    return "jensenshannon"


def column_drift(
    column: str, ref: ColumnStats | DriftError, cur: ColumnStats | DriftError, options: DriftOptions
) -> ColumnDrift:
    """Test one column as evidently would.

    Returns:
        Its :class:`ColumnDrift`; a column that cannot be tested (non-numbers in a
        numerical column, fewer than ``options.min_rows`` usable values on a side, a test
        undefined for the data) carries ``error`` and no score or verdict.
    """
    column_type = options.column_type(column)
    both = not isinstance(ref, DriftError) and not isinstance(cur, DriftError)
    test = options.column_stattest(column)
    if test is None:
        n_unique = union_size(ref, cur, cap=DEFAULT_TEST_MAX_UNIQUE) if both else 0
        test = default_stattest(column_type, ref.n if both else 0, n_unique)
    threshold = options.resolved_threshold(column, test)

    def untested(message: str) -> ColumnDrift:
        return ColumnDrift(column, column_type, test, threshold, None, None, message)

    if isinstance(ref, DriftError) or isinstance(cur, DriftError):
        return untested(str(ref if isinstance(ref, DriftError) else cur))
    problem = insufficient_data(ref.n, cur.n, options.min_rows)
    if problem:
        return untested(problem)
    try:
        with np.errstate(divide="ignore", invalid="ignore"):
            score = TESTS[test](ref, cur)
    except DriftError as exc:
        return untested(str(exc))
    return ColumnDrift.from_score(column, column_type, test, threshold, score)


@register_engine
class FastEngine(DriftEngine):
    """Vectorised numpy/scipy drift tests with evidently's numbers.

    Tests: ks, wasserstein, z, chisquare, jensenshannon, psi, kl_div, hellinger.

    Raises:
        ConfigError: when the options ask for another test (the ``evidently`` engine
            runs those).
    """

    name: ClassVar[str] = "fast"

    def __init__(self, options: DriftOptions) -> None:
        super().__init__(options)
        for column in options.columns:
            test = options.column_stattest(column)
            if test is not None and test not in TESTS:
                raise ConfigError(
                    f"the fast drift engine does not implement the '{test}' test: use --engine evidently for it"
                )
        self.profile: ReferenceProfile | None = None

    def fit(self, reference: pd.DataFrame) -> FastEngine:
        """Summarise the reference (sorted values, category counts); return ``self``.

        Raises:
            DriftError: when the reference lacks a column or holds no rows.
        """
        return self.fit_stats(frame_stats(reference, self.options.numerical, self.options.categorical, "reference"))

    def fit_parquet(self, path: str | Path) -> FastEngine:
        """Like :meth:`fit` on a Parquet file, read one column at a time."""
        return self.fit_stats(parquet_stats(path, self.options.numerical, self.options.categorical))

    def fit_stats(self, stats: StatsSource) -> FastEngine:
        """Fit on summaries of the reference (from :mod:`~modelmedic.drift.stats` or another
        producer of the same summaries).

        Raises:
            DriftError: when the reference holds no rows.
        """
        self.profile = ReferenceProfile.from_stats(self.options.numerical, self.options.categorical, stats)
        return self

    @classmethod
    def from_profile(cls, profile: ReferenceProfile, options: DriftOptions | None = None) -> FastEngine:
        """An engine fitted on a saved reference profile (``options`` default to its columns).

        Raises:
            DriftError: when ``options`` name a column the profile lacks or types it otherwise.
        """
        engine = cls(options or profile.options())
        missing = [c for c in engine.options.columns if c not in profile.columns]
        if missing:
            raise DriftError(f"the reference profile lacks the columns {', '.join(missing)}")
        retyped = [c for c in engine.options.columns if profile.column_type(c) != engine.options.column_type(c)]
        if retyped:
            raise DriftError(f"the reference profile types {', '.join(retyped)} otherwise; keep the profile's types")
        engine.profile = profile
        return engine

    def calculate(self, current: pd.DataFrame) -> DriftResult:
        """Compare ``current`` with the reference, column by column.

        Raises:
            DriftError: when not fitted or ``current`` lacks a column.
        """
        return self.calculate_stats(
            frame_stats(current, self.options.numerical, self.options.categorical, "current data")
        )

    def calculate_parquet(self, path: str | Path) -> DriftResult:
        """Like :meth:`calculate` on a Parquet file, read one column at a time."""
        return self.calculate_stats(parquet_stats(path, self.options.numerical, self.options.categorical))

    def calculate_stats(self, stats: StatsSource) -> DriftResult:
        """Compare summaries of the current data with the reference, one column at a time.

        Raises:
            DriftError: when the engine is not fitted.
        """
        if self.profile is None:
            raise DriftError("the fast drift engine is not fitted: call fit() or from_profile() first")
        reference = self.profile.columns

        def test(column: str) -> ColumnDrift:
            return column_drift(column, reference[column], stats[column], self.options)

        columns = per_column(self.options.columns, test, stats.rows)
        return DriftResult(columns, self.options.drift_share, self.profile.rows, stats.rows, self.name)
