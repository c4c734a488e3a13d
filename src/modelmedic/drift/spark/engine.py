"""The ``spark`` drift engine: the ``fast`` engine's tests, scores and verdicts on data that
Spark holds (Parquet folders, tables, JDBC sources), with only small results on the driver.

The reference is summarised once (as the ``fast`` engine does, or read from a saved
profile) and shipped to the executors; every window of a job is measured by the same few
Spark jobs grouped by window (:mod:`~modelmedic.drift.spark.queries`), and the driver turns
their one-row-per-window-and-column results into scores (:mod:`~modelmedic.drift.spark.scoring`).

Example:
    >>> engine = SparkEngine(options).fit(reference_frame)
    >>> results = engine.calculate_windows(spark.read.parquet("s3://logs/predictions"),
    ...                                    F.weekofyear("datetime"))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from modelmedic.config import get_settings
from modelmedic.drift.base import ColumnDrift, DriftEngine, DriftOptions, DriftResult, register_engine, require_columns
from modelmedic.drift.fast import FastEngine, column_drift
from modelmedic.drift.spark import queries
from modelmedic.drift.spark.checks import WindowChecks, WindowMeasures, check_aggregates, window_measures
from modelmedic.drift.spark.scoring import (
    SUPPORTED_TESTS,
    WindowColumn,
    gather_limit,
    histogram_edges,
    numeric_column_drift,
    numeric_test,
)
from modelmedic.drift.spark.session import require_pyspark, spark_session
from modelmedic.drift.stats import CategoryStats, NumericStats, StatsSource
from modelmedic.errors import ConfigError, DriftError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from pyspark.sql import Column, DataFrame, SparkSession

    from modelmedic.drift.profile import ReferenceProfile

# tests that bin per value return at most this many distinct values of a window to the driver
GATHER_LIMIT = 10_000
_INTEGRAL = ("tinyint", "smallint", "int", "bigint")
_NUMBERS = (*_INTEGRAL, "float", "double")


def _is_spark_frame(data: Any) -> bool:
    return type(data).__module__.startswith("pyspark.")


@register_engine
class SparkEngine(DriftEngine):
    """evidently's tests, as the ``fast`` engine computes them, run in Spark.

    Tests: ks, wasserstein, z, chisquare, jensenshannon, psi, kl_div, hellinger.

    Args:
        options: What to test.
        session: The Spark session (default: :func:`~modelmedic.drift.spark.session.spark_session`
            from the settings, on first use).
        gather_limit: Most distinct values of a window returned to the driver for a test
            that bins per value (z, chisquare; psi, kl_div, jensenshannon on 20 or fewer
            distinct reference values); beyond it that column is reported untested.

    Raises:
        ConfigError: when pyspark is missing or the options ask for another test.
    """

    name: ClassVar[str] = "spark"

    def __init__(
        self, options: DriftOptions, session: SparkSession | None = None, gather_limit: int = GATHER_LIMIT
    ) -> None:
        super().__init__(options)
        require_pyspark()
        for column in options.columns:
            test = options.column_stattest(column)
            if test is not None and test not in SUPPORTED_TESTS:
                raise ConfigError(
                    f"the spark drift engine does not implement the '{test}' test: use --engine evidently for it"
                )
        self._session = session
        self.gather_limit = gather_limit
        self.reference: FastEngine | None = None

    @property
    def session(self) -> SparkSession:
        """The Spark session the queries run in.

        Raises:
            ConfigError: when Spark cannot start.
        """
        if self._session is None:
            settings = get_settings()
            self._session = spark_session(settings.spark_master, settings.spark_conf)
        return self._session

    # -- the reference ----------------------------------------------------------------------

    def fit(self, reference: pd.DataFrame | DataFrame) -> SparkEngine:
        """Summarise the reference (a pandas or Spark frame, small enough for the driver).

        Raises:
            DriftError: when the reference lacks a column or holds no rows.
        """
        fast = FastEngine(self.options)
        if _is_spark_frame(reference):
            self.reference = fast.fit_stats(self._spark_stats(reference))
        else:
            self.reference = fast.fit(reference)
        return self

    @classmethod
    def from_profile(cls, profile: ReferenceProfile, options: DriftOptions | None = None) -> SparkEngine:
        """An engine fitted on a saved reference profile (see ``FastEngine.from_profile``).

        Raises:
            DriftError: when ``options`` name a column the profile lacks or types it otherwise.
        """
        fast = FastEngine.from_profile(profile, options)
        engine = cls(fast.options)
        engine.reference = fast
        return engine

    def _spark_stats(self, frame: DataFrame) -> StatsSource:
        """Summaries of a Spark reference: its distinct values per column, on the driver."""
        # lazy: numpy only where arrays are computed
        import numpy as np
        from pyspark.sql import functions as F  # heavy, optional (the engine needs pyspark)

        self._require(frame, "reference")
        data = frame.withColumn(queries.WINDOW, F.lit(0).cast("long"))
        rows, non_null, _ = queries.window_counts(data, self.options.columns).get(0, (0, {}, None))
        numeric, problems = self._numeric_columns(frame)
        values: dict[str, list[tuple[float, int]]] = {}
        if numeric:
            for r in queries.distinct_values(data, numeric).collect():
                values.setdefault(numeric[r["__c"]], []).append((r["__v"], r["__cur"]))
        categories = queries.category_counts(data, list(self.options.categorical))
        types = dict(frame.dtypes)

        def summarise(column: str) -> NumericStats | CategoryStats:
            if column in problems:
                raise problems[column]
            if column in self.options.categorical:
                counts = categories.get((0, column), {})
                return CategoryStats(tuple(counts), np.array(list(counts.values()), dtype=np.int64))
            pairs = sorted(values.get(column, []))
            integer = types[column] in _INTEGRAL and non_null[column] == rows
            return NumericStats(
                np.array([p[0] for p in pairs], dtype=np.float64), np.array([p[1] for p in pairs], np.int64), integer
            )

        return StatsSource(self.options.columns, summarise, rows)

    # -- windows ------------------------------------------------------------------------------

    def calculate(self, current: pd.DataFrame | DataFrame) -> DriftResult:
        """Compare one data set (pandas or Spark) with the reference.

        Raises:
            DriftError: when not fitted or ``current`` lacks a column.
        """
        # lazy: pyspark is an optional extra
        from pyspark.sql import functions as F  # heavy, optional (the engine needs pyspark)

        data = current if _is_spark_frame(current) else self.to_spark(current, "current data")
        return self.calculate_windows(data, F.lit(0), windows=[0])[0]

    def calculate_frames(self, frames: Sequence[pd.DataFrame]) -> list[DriftResult]:
        """Drift of each pandas frame, all in the same Spark jobs (one window each).

        Raises:
            DriftError: when not fitted or a frame lacks a column.
        """
        return [drift for drift, _ in self.check_frames(frames)]

    def check_frames(
        self, frames: Sequence[pd.DataFrame], checks: WindowChecks | None = None
    ) -> list[tuple[DriftResult, WindowMeasures | None]]:
        """Drift of each pandas frame and, with ``checks``, its quality and error, all in the
        same Spark jobs (one window each).

        Raises:
            DriftError: when not fitted or a frame lacks a column.
        """
        # lazy: pandas costs ~0.4 s to import
        import pandas as pd

        if not frames:
            return []
        for frame in frames:
            self._require_pandas(frame, "current data")
        columns = list(dict.fromkeys([*self.options.columns, *(checks.columns if checks else [])]))
        tagged = [f[columns].assign(**{queries.WINDOW: i}) for i, f in enumerate(frames)]
        data = self.to_spark(pd.concat(tagged, ignore_index=True), "current data", columns)
        drifts, measures = self.check_windows(data, queries.WINDOW, checks, windows=list(range(len(frames))))
        return [(drifts[i], measures.get(i)) for i in range(len(frames))]

    def calculate_windows(
        self, data: DataFrame, window: Column | str, windows: Sequence[int] | None = None
    ) -> dict[int, DriftResult]:
        """Drift of every window of ``data`` against the reference, in a few Spark jobs.

        Args:
            data: The rows (any Spark source: Parquet, a table, JDBC).
            window: The window id of a row: an integer column or expression (rows where it
                is null belong to no window).
            windows: The ids to report (default: those found in ``data``); an id without
                rows gets insufficient data.

        Returns:
            ``{window id: DriftResult}``.

        Raises:
            DriftError: when not fitted or ``data`` lacks a column.
        """
        return self.check_windows(data, window, None, windows)[0]

    def check_windows(
        self,
        data: DataFrame,
        window: Column | str,
        checks: WindowChecks | None,
        windows: Sequence[int] | None = None,
    ) -> tuple[dict[int, DriftResult], dict[int, WindowMeasures]]:
        """:meth:`calculate_windows`, and with ``checks`` each window's quality and error,
        measured by the job that counts its rows.

        Returns:
            ``{window id: DriftResult}`` and ``{window id: WindowMeasures}`` (empty without
            ``checks``).

        Raises:
            DriftError: when not fitted or ``data`` lacks a column.
        """
        # lazy: pyspark is an optional extra
        from pyspark.sql import functions as F  # heavy, optional (the engine needs pyspark)

        if self.reference is None or self.reference.profile is None:
            raise DriftError("the spark drift engine is not fitted: call fit() or from_profile() first")
        self._require(data, "current data")
        column = F.col(window) if isinstance(window, str) else window
        data = data.withColumn(queries.WINDOW, column.cast("long")).where(F.col(queries.WINDOW).isNotNull())
        types = dict(data.dtypes)
        extra = check_aggregates(checks, types) if checks else []
        counts = queries.window_counts(data, self.options.columns, extra)
        ids = sorted(counts) if windows is None else list(windows)
        profile = self.reference.profile
        numeric, problems = self._numeric_columns(data)
        tested = [c for c in numeric if isinstance(profile.columns[c], NumericStats)]
        aggregates = {}
        measured = [c for c in tested if profile.columns[c].nunique]
        # without reference values a column is untested, but its distinct values choose the test
        unions = {}
        if len(measured) < len(tested) and ids:
            unions = queries.distinct_counts(data, [c for c in tested if c not in measured])
        if measured and ids:
            reference = {c: (profile.columns[c].values, profile.columns[c].counts) for c in measured}
            gather = {
                c: gather_limit(self.options.column_stattest(c), profile.columns[c], self.gather_limit)
                for c in measured
            }
            aggregates = queries.numeric_aggregates(data, measured, reference, gather)
        categorical = [*self.options.categorical, *(checks.profile.categories if checks else [])]
        categories = queries.category_counts(data, list(dict.fromkeys(categorical)))

        def window_column(w: int, c: str) -> WindowColumn | DriftError:
            if c in problems:
                return problems[c]
            rows, non_null, _ = counts.get(w, (0, {}, None))
            agg = aggregates.get((w, c)) or _empty_aggregate(profile.columns[c].nunique + unions.get((w, c), 0))
            return WindowColumn(agg, types[c] in _INTEGRAL and non_null.get(c, 0) == rows)

        histograms = self._histograms(data, ids, tested, window_column)
        results: dict[int, DriftResult] = {}
        measures: dict[int, WindowMeasures] = {}
        for w in ids:
            columns: dict[str, ColumnDrift] = {}
            for c in self.options.columns:
                ref = profile.columns[c]
                if c in self.options.categorical:
                    found = categories.get((w, c), {})
                    cur = CategoryStats(tuple(found), _int_array(list(found.values())))
                    columns[c] = column_drift(c, ref, cur, self.options)
                else:
                    hist = histograms.get((w, c))
                    columns[c] = numeric_column_drift(
                        c, ref, window_column(w, c), hist, self.options, self.gather_limit
                    )
            rows, _, row = counts.get(w, (0, {}, None))
            results[w] = DriftResult(columns, self.options.drift_share, profile.rows, rows, self.name)
            if checks:
                found = {c: categories.get((w, c), {}) for c in checks.profile.categories}
                measures[w] = window_measures(checks, row, rows, found)
        return results, measures

    def _histograms(
        self, data: DataFrame, ids: Sequence[int], tested: Sequence[str], window_column: Any
    ) -> dict[tuple[int, str], np.ndarray | DriftError]:
        """Counts on Sturges bins for the window x columns whose test reads them (one job)."""
        assert self.reference is not None and self.reference.profile is not None
        profile = self.reference.profile
        edges: dict[tuple[int, str], np.ndarray] = {}
        out: dict[tuple[int, str], np.ndarray | DriftError] = {}
        for w in ids:
            for c in tested:
                ref, cur = profile.columns[c], window_column(w, c)
                if isinstance(cur, DriftError) or cur.aggregate.n < self.options.min_rows or cur.stats is not None:
                    continue
                if ref.n < self.options.min_rows:
                    continue
                try:
                    found = histogram_edges(numeric_test(ref, cur, c, self.options), ref, cur)
                except DriftError as exc:
                    out[w, c] = exc
                    continue
                if found is not None:
                    edges[w, c] = found
        if edges:
            out.update(queries.histogram_counts(data, list(tested), edges))
        return out

    # -- inputs -------------------------------------------------------------------------------

    def _numeric_columns(self, frame: DataFrame) -> tuple[list[str], dict[str, DriftError]]:
        """The numerical columns Spark holds as numbers, and why the others cannot be tested."""
        types = dict(frame.dtypes)
        numeric, problems = [], {}
        for c in self.options.numerical:
            if types[c] in _NUMBERS or types[c].startswith("decimal"):
                numeric.append(c)
            else:
                problems[c] = DriftError(
                    f"numerical column '{c}' holds {types[c]} values, not numbers; declare it categorical"
                )
        return numeric, problems

    def _require(self, frame: DataFrame, side: str) -> None:
        missing = [c for c in self.options.columns if c not in frame.columns]
        if missing:
            raise DriftError(f"the {side} lacks the columns {', '.join(missing)}; check the column names")

    def _require_pandas(self, frame: pd.DataFrame, side: str) -> None:

        require_columns(frame, self.options.columns, side)

    def to_spark(self, frame: pd.DataFrame, side: str, columns: Sequence[str] | None = None) -> DataFrame:
        """A pandas frame's tested columns (or ``columns``) as a Spark frame (categories as
        their values).

        Raises:
            DriftError: when the frame lacks a column.
        """
        # lazy: pandas costs ~0.4 s to import
        import pandas as pd

        self._require_pandas(frame, side)
        keep = [*(columns or self.options.columns), *([queries.WINDOW] if queries.WINDOW in frame.columns else [])]
        plain = frame[keep].reset_index(drop=True)
        for c in plain.columns:
            if isinstance(plain[c].dtype, pd.CategoricalDtype):
                plain[c] = plain[c].astype(object)
            if plain[c].dtype == object and plain[c].isna().all():  # Spark infers no type from nulls alone
                plain[c] = plain[c].astype("string")
        return self.session.createDataFrame(plain)


def _int_array(values: list[int]) -> np.ndarray:
    # lazy: numpy only where arrays are computed
    import numpy as np

    return np.array(values, dtype=np.int64)


def _empty_aggregate(reference_values: int) -> queries.NumericAggregate:
    """A window without usable values: the distinct values are the reference's."""
    nan = float("nan")
    return queries.NumericAggregate(0, 0, reference_values, nan, nan, nan, nan, 0.0, None)
