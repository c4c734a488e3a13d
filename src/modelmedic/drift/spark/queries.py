"""The Spark side of the ``spark`` drift engine: per window and column, the few numbers the
tests need, computed where the data are; only one row per window x column (or per bin,
or per category) reaches the driver.

Every query groups by a window id column (:data:`WINDOW`), so all windows of a job are
measured by the same few Spark jobs, whatever their number:

- :func:`window_counts`: rows and non-missing values per window (and the monitor's
  quality and error sums, :mod:`~modelmedic.drift.spark.checks`).
- :func:`numeric_aggregates`: for numerical columns, the window's distinct values and
  counts (``GROUP BY window, column, value``), placed in the reference's CDF by binary
  search (a broadcast lookup, never a per-window copy of the reference) and sorted within
  each window x column with running counts (window functions): the K-S gaps, the
  Wasserstein integral, the number of distinct values of both sides, min and max.
- :func:`histogram_counts`: counts on given bin edges per window x column.
- :func:`category_counts`: counts per category per window x column.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

    from modelmedic.windows import Window

WINDOW = "__modelmedic_window"
_C, _V, _CUR, _REF = "__c", "__v", "__cur", "__ref"
# beyond this, n_ref * (n_ref + n_cur) may overflow a long: the CDF gaps are taken as doubles
EXACT_COUNTS_LIMIT = 2.0**62


@dataclass(frozen=True)
class NumericAggregate:
    """What the Spark query found for one numerical column in one window.

    Attributes:
        n: Usable (finite) values in the window.
        nunique: Distinct usable values in the window.
        union: Distinct values of reference and window together.
        low: Smallest usable value of the window (NaN when none).
        high: Largest usable value of the window (NaN when none).
        max_gap: Largest ``F_ref - F_cur`` over the merged values.
        min_gap: Smallest ``F_ref - F_cur`` over the merged values.
        wasserstein_sum: ``sum |n_cur F_ref - n_ref F_cur| * gap to the next value`` (counts,
            not shares; shares when ``n_ref * (n_ref + n_cur)`` reaches :data:`EXACT_COUNTS_LIMIT`).
        values: The window's distinct values and counts, when gathered (small windows of
            columns whose test bins per value), else ``None``.
    """

    n: int
    nunique: int
    union: int
    low: float
    high: float
    max_gap: float
    min_gap: float
    wasserstein_sum: float
    values: tuple[np.ndarray, np.ndarray] | None


def _functions() -> Any:
    # lazy: pyspark is an optional extra
    from pyspark.sql import functions  # heavy, optional: only the spark engine imports this module

    return functions


def finite(value: Column) -> Column:
    """Not null, not NaN, not ±inf (evidently drops those before testing)."""
    F = _functions()
    return value.isNotNull() & ~F.isnan(value) & (F.abs(value) != F.lit(float("inf")))


def _pick(values: Sequence[Any], index: Column) -> Column:
    """``values[index]`` as a Spark expression (a literal array: one value per column)."""
    F = _functions()
    return F.element_at(F.array(*[F.lit(v) for v in values]), index + 1)


def window_index(timestamp: str, windows: Sequence[Window]) -> Column:
    """The index of the window holding each row's ``timestamp`` (null: in none), as one
    Spark expression, so that one job measures every window."""
    F = _functions()
    stamp = F.col(timestamp)
    index = None
    for w in windows:
        inside = (stamp >= F.lit(w.begin.to_pydatetime())) & (stamp < F.lit(w.end.to_pydatetime()))
        index = F.when(inside, w.index) if index is None else index.when(inside, w.index)
    return F.lit(None).cast("long") if index is None else index


def window_counts(
    data: DataFrame, columns: Sequence[str], extra: Sequence[Column] = ()
) -> dict[int, tuple[int, dict[str, int], Any]]:
    """``{window: (rows, {column: non-null values}, row)}``, one small row per window; ``row``
    also holds the ``extra`` aggregates (aliased) computed in the same job.

    Raises:
        pyspark errors: when ``data`` lacks :data:`WINDOW` or a column.
    """
    F = _functions()
    counts = [F.count(F.col(c)).alias(f"n{i}") for i, c in enumerate(columns)]
    rows = data.groupBy(WINDOW).agg(F.count(F.lit(1)).alias("rows"), *counts, *extra).collect()
    return {int(r[WINDOW]): (int(r["rows"]), {c: int(r[f"n{i}"]) for i, c in enumerate(columns)}, r) for r in rows}


def distinct_values(data: DataFrame, columns: Sequence[str]) -> DataFrame:
    """``(window, column index, value, count)`` of the finite values of numerical ``columns``."""
    F = _functions()
    pairs = F.explode(
        F.array(*[F.struct(F.lit(i).alias(_C), F.col(c).cast("double").alias(_V)) for i, c in enumerate(columns)])
    )
    long = data.select(F.col(WINDOW), pairs.alias("p")).select(WINDOW, "p.*")
    return long.where(finite(F.col(_V))).groupBy(WINDOW, _C, _V).agg(F.count(F.lit(1)).alias(_CUR))


def distinct_counts(data: DataFrame, columns: Sequence[str]) -> dict[tuple[int, str], int]:
    """``{(window, column): distinct finite values}`` of numerical ``columns``."""
    rows = distinct_values(data, columns).groupBy(WINDOW, _C).count().collect()
    return {(int(r[WINDOW]), columns[r[_C]]): int(r["count"]) for r in rows}


def numeric_aggregates(
    data: DataFrame,
    columns: Sequence[str],
    reference: Mapping[str, tuple[np.ndarray, np.ndarray]],
    gather: Mapping[str, int],
) -> dict[tuple[int, str], NumericAggregate]:
    """Measure the gaps between each window's CDF and the reference's.

    Only the window's distinct values are sorted (per window x column); the reference is
    never copied per window. Each window value finds its place among the reference values
    by binary search (Spark ML's ``Bucketizer``) and reads, from a broadcast table, the
    reference's count at or below it and the integral of the reference CDF up to it. The
    K-S gaps between two window values are largest just before the next one; the
    Wasserstein integral between two window values is split where the reference CDF
    crosses the window's (a second binary search), so the terms are those of the merged
    sum, added in another order.

    Args:
        data: The rows, with a :data:`WINDOW` column.
        columns: Numerical columns (Spark numbers).
        reference: ``{column: (sorted distinct values, counts)}`` of the reference (at least
            one value each; shipped to the executors once).
        gather: ``{column: n}``: return the window's distinct values when at most ``n``.

    Returns:
        ``{(window, column): NumericAggregate}``; a window without any usable value of a
        column has no entry.
    """
    # lazy: pyspark is an optional extra
    from pyspark.sql import Window  # heavy, optional (see _functions)

    F = _functions()
    tables = [_ReferenceCdf(*reference[c]) for c in columns]
    n_ref = [t.n for t in tables]
    lookup = data.sparkSession.createDataFrame(_lookup_table(tables), _LOOKUP_SCHEMA)
    c = F.col(_C)
    n1 = _pick(n_ref, c).cast("long")
    values = distinct_values(data, columns)
    found = _bucket(values, F.col(_V), [t.value_splits for t in tables], "k")
    found = found.join(F.broadcast(lookup), [_C, "k"])

    part = Window.partitionBy(WINDOW, _C)
    ordered = part.orderBy(_V)
    fc, cum, cur = F.col("fc"), F.col("cum"), F.col(_CUR)
    n2 = F.col("n2")
    # the reference CDF's integral up to the value, as a sum of two doubles (hi + lo)
    running = found.select(
        WINDOW, _C, _V, _CUR, "k", "cum", "eq", "rprev",
        F.col("a_hi").alias("i_hi"), (F.col("a_lo") + cum * (F.col(_V) - F.col("rprev"))).alias("i_lo"),
        F.sum(_CUR).over(ordered).alias("fc"),
        F.sum(_CUR).over(part).alias("n2"),
        F.count(F.lit(1)).over(part).alias("nunique"),
        F.lead(_V).over(ordered).alias("next"),
        F.lead("k").over(ordered).alias("k_next"),
        F.lead("a_hi").over(ordered).alias("b_hi"),
        F.lead(F.col("a_lo") + cum * (F.col(_V) - F.col("rprev"))).over(ordered).alias("b_lo"),
    )  # fmt: skip
    # where the reference CDF reaches the window's (first reference value at or above it)
    crossing = _bucket(running, fc / n2, [t.share_splits for t in tables], "t")
    last = _pick([len(t.values) for t in tables], c)
    crossing = crossing.withColumn("kt", F.least(F.col("t"), last - 1) + 1).drop("t")
    crossing = crossing.join(
        F.broadcast(lookup.select(_C, F.col("k").alias("kt"), F.col("rprev").alias("r_t"),
                                  F.col("a_hi").alias("t_hi"), F.col("a_lo").alias("t_lo"))),
        [_C, "kt"],
    )  # fmt: skip

    a, level = F.col(_V), n1.cast("double") * fc
    top = _pick([float(t.values[-1]) for t in tables], c)
    b = F.coalesce(F.col("next"), F.greatest(top, a))
    b_hi = F.coalesce(F.col("b_hi"), F.when(top > a, _pick([t.a_hi[-1] for t in tables], c)).otherwise(F.col("i_hi")))
    b_lo = F.coalesce(F.col("b_lo"), F.when(top > a, _pick([t.a_lo[-1] for t in tables], c)).otherwise(F.col("i_lo")))
    same = F.col("k_next") == F.col("k")
    rise = F.when(same, cum * (b - a)).otherwise((b_hi - F.col("i_hi")) + (b_lo - F.col("i_lo")))
    cross = F.least(F.greatest(F.col("r_t"), a), b)
    cross_rise = (
        F.when(cross <= a, F.lit(0.0))
        .when(cross >= b, rise)
        .otherwise((F.col("t_hi") - F.col("i_hi")) + (F.col("t_lo") - F.col("i_lo")))
    )
    # integral of |n2 F_ref - n1 F_cur| from this window value to the next
    term = (n2 * rise - level * (b - a)) + 2 * (level * (cross - a) - n2 * cross_rise)
    first = F.when(fc == cur, n2 * (F.col("i_hi") + F.col("i_lo"))).otherwise(F.lit(0.0))
    ref_below = cum - F.when((F.col("k") > 0) & (F.col("rprev") == a), F.col("eq")).otherwise(F.lit(0))
    gap = F.try_divide(cum, n1) - F.try_divide(fc, n2)
    gap_before = F.try_divide(ref_below, n1) - F.try_divide(fc - cur, n2)
    small = F.col("nunique") <= _pick([gather.get(col, 0) for col in columns], c)
    rows = (
        crossing.groupBy(WINDOW, _C)
        .agg(
            F.max("n2").alias("n"),
            F.max("nunique").alias("nunique"),
            F.sum(F.when((F.col("k") == 0) | (F.col("rprev") != a), 1).otherwise(0)).alias("new"),
            F.min(a).alias("low"),
            F.max(a).alias("high"),
            F.max(F.greatest(gap, gap_before)).alias("max_gap"),
            F.min(gap).alias("min_gap"),
            F.sum(term + first).alias("wasserstein_sum"),
            F.collect_list(F.when(small, F.struct(a.alias("v"), cur.alias("k")))).alias("values"),
        )
        .collect()
    )
    return _numeric_results(rows, columns, tables)


def _numeric_results(
    rows: Sequence[Any], columns: Sequence[str], tables: Sequence[_ReferenceCdf]
) -> dict[tuple[int, str], NumericAggregate]:
    """The collected per-(window, column) rows of :func:`numeric_aggregates` as aggregates."""
    n_ref = [t.n for t in tables]
    out = {}
    for r in rows:
        values = None
        if r["values"]:
            pairs = sorted((p["v"], p["k"]) for p in r["values"])
            values = (np.array([p[0] for p in pairs], dtype=np.float64), np.array([p[1] for p in pairs], np.int64))
        ref_n, cur_n = n_ref[r[_C]], int(r["n"])
        total = float(r["wasserstein_sum"] or 0.0)
        out[int(r[WINDOW]), columns[r[_C]]] = NumericAggregate(
            n=cur_n,
            nunique=int(r["nunique"]),
            union=len(tables[r[_C]].values) + int(r["new"]),
            low=float(r["low"]),
            high=float(r["high"]),
            max_gap=float(r["max_gap"]),
            min_gap=float(r["min_gap"]),
            wasserstein_sum=total / (ref_n * cur_n) if ref_n * (ref_n + cur_n) >= EXACT_COUNTS_LIMIT else total,
            values=values,
        )
    return out


_LOOKUP_SCHEMA = f"{_C} int, k int, cum long, eq long, rprev double, a_hi double, a_lo double"


class _ReferenceCdf:
    """One column's reference CDF, ready for lookups: ``cum[k]`` values at or below the
    ``k``-th smallest, and ``a_hi[k] + a_lo[k]``, the integral of the CDF (in counts) from
    the smallest value to the ``k``-th (compensated sums: their differences stay exact)."""

    def __init__(self, values: np.ndarray, counts: np.ndarray) -> None:
        self.values = np.asarray(values, dtype=np.float64)
        counts = np.asarray(counts, dtype=np.int64)
        self.counts = counts
        self.cum = np.concatenate([[0], np.cumsum(counts)])
        self.n = int(self.cum[-1])
        terms = (self.cum[1:-1] * np.diff(self.values)).tolist()
        hi, lo = [0.0], [0.0]
        for term in terms:  # Neumaier's two-sum: hi + lo carries the exact running sum
            total = hi[-1] + term
            error = (hi[-1] - total) + term if abs(hi[-1]) >= abs(term) else (term - total) + hi[-1]
            hi.append(total)
            lo.append(lo[-1] + error)
        self.a_hi, self.a_lo = hi, lo

    @property
    def value_splits(self) -> list[float]:
        """Bucket ``k`` holds the values with exactly ``k`` reference values at or below."""
        return [-math.inf, *self.values.tolist(), math.inf]

    @property
    def share_splits(self) -> list[float]:
        """Bucket ``t`` holds the shares reached after ``t`` reference values (``t`` from 0)."""
        return [-math.inf, *(self.cum[1:] / self.n).tolist(), math.inf]


def _lookup_table(tables: Sequence[_ReferenceCdf]) -> Any:
    """Per column and ``k`` (reference values at or below): ``cum``, ``eq`` (the count of
    the largest of them), ``rprev`` (its value) and the CDF's integral up to it."""
    # lazy: pandas costs ~0.4 s to import
    import pandas as pd

    parts = []
    for i, t in enumerate(tables):
        size = len(t.values) + 1
        parts.append(
            pd.DataFrame(
                {
                    _C: np.full(size, i, dtype=np.int32),
                    "k": np.arange(size, dtype=np.int32),
                    "cum": t.cum,
                    "eq": np.concatenate([[0], t.counts]),
                    "rprev": np.concatenate([[0.0], t.values]),
                    "a_hi": np.array([0.0, *t.a_hi]),
                    "a_lo": np.array([0.0, *t.a_lo]),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _bucket(frame: DataFrame, key: Column, splits: Sequence[list[float]], name: str) -> DataFrame:
    """``frame`` with ``name``: the bucket of ``key`` among the splits of the row's column
    (a binary search in the JVM; each column has its own splits)."""
    # lazy: pyspark is an optional extra
    from pyspark.ml.feature import Bucketizer  # heavy, optional (see _functions)

    F = _functions()
    keys = [f"__key{i}" for i in range(len(splits))]
    found = [f"__bucket{i}" for i in range(len(splits))]
    masked = frame.select(
        "*", *[F.when(F.col(_C) == i, key).otherwise(F.lit(float("nan"))).alias(k) for i, k in enumerate(keys)]
    )
    bucketed = Bucketizer(
        splitsArray=[list(s) for s in splits], inputCols=keys, outputCols=found, handleInvalid="keep"
    ).transform(masked)
    pick = F.element_at(F.array(*[F.col(f) for f in found]), F.col(_C) + 1).cast("int")
    return bucketed.withColumn(name, pick).drop(*keys, *found)


def histogram_counts(
    data: DataFrame, columns: Sequence[str], edges: Mapping[tuple[int, str], np.ndarray]
) -> dict[tuple[int, str], np.ndarray]:
    """Counts per bin, as ``np.histogram(values, edges)``, of each window x column in ``edges``.

    Bins are ``[e_i, e_i+1)``, the last one closed; the edges (a few dozen per window x
    column) are joined to the window's distinct values and each value finds its bin by
    counting the edges at or below it.
    """
    F = _functions()
    index = {c: i for i, c in enumerate(columns)}
    wanted = [(int(w), index[c], [float(e) for e in e_]) for (w, c), e_ in edges.items()]
    table = data.sparkSession.createDataFrame(wanted, f"{WINDOW} long, {_C} int, edges array<double>")
    values = distinct_values(data, columns).join(F.broadcast(table), [WINDOW, _C])
    last = F.size("edges") - 2
    below = F.size(F.filter("edges", lambda e: e <= F.col(_V))) - 1
    binned = values.where(F.col(_V) <= F.element_at("edges", -1)).select(
        WINDOW, _C, F.least(below, last).alias("bin"), _CUR
    )
    rows = binned.where(F.col("bin") >= 0).groupBy(WINDOW, _C, "bin").agg(F.sum(_CUR).alias("k")).collect()
    out = {key: np.zeros(len(e) - 1, dtype=np.int64) for key, e in edges.items()}
    for r in rows:
        out[int(r[WINDOW]), columns[r[_C]]][r["bin"]] = int(r["k"])
    return out


def category_counts(data: DataFrame, columns: Sequence[str]) -> dict[tuple[int, str], dict[Any, int]]:
    """``{(window, column): {category: count}}`` of categorical ``columns`` (nulls left out),
    all columns in one job (grouping sets keep each column's own type)."""
    F = _functions()
    if not columns:
        return {}
    sets = [[F.col(WINDOW), F.col(c)] for c in columns]
    tags = [F.grouping(F.col(c)).alias(f"g{i}") for i, c in enumerate(columns)]
    rows = data.groupingSets(sets, WINDOW, *columns).agg(F.count(F.lit(1)).alias("k"), *tags).collect()
    out: dict[tuple[int, str], dict[Any, int]] = {}
    for r in rows:
        for i, c in enumerate(columns):
            if r[f"g{i}"] == 0 and r[c] is not None and not _missing_float(r[c]):
                out.setdefault((int(r[WINDOW]), c), {})[r[c]] = int(r["k"])
    return out


def _missing_float(value: Any) -> bool:
    """NaN and ±inf categories are left out, as missing values (``category_stats``)."""
    return isinstance(value, float) and not math.isfinite(value)
