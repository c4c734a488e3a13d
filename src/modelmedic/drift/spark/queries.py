"""The Spark side of the ``spark`` drift engine: per window and column, the few numbers the
tests need, computed where the data are; only one row per window x column (or per bin,
or per category) reaches the driver.

Every query groups by a window id column (:data:`WINDOW`), so all windows of a job are
measured by the same few Spark jobs, whatever their number:

- :func:`window_counts`: rows and non-missing values per window (and the monitor's
  quality and error sums, :mod:`~modelmedic.drift.spark.checks`).
- :func:`numeric_aggregates`: for numerical columns, the window's distinct values and
  counts (``GROUP BY window, column, value``) merged with the reference's, sorted by value
  within each window x column, with running counts (window functions): the K-S gaps, the
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


def numeric_aggregates(
    data: DataFrame,
    columns: Sequence[str],
    reference: Mapping[str, tuple[np.ndarray, np.ndarray]],
    windows: Sequence[int],
    gather: Mapping[str, int],
) -> dict[tuple[int, str], NumericAggregate]:
    """Merge each window's values with the reference's and measure the gaps between CDFs.

    Args:
        data: The rows, with a :data:`WINDOW` column.
        columns: Numerical columns (Spark numbers).
        reference: ``{column: (sorted distinct values, counts)}`` of the reference (small:
            shipped to the executors once per window).
        windows: The window ids to measure.
        gather: ``{column: n}``: return the window's distinct values when at most ``n``.

    Returns:
        ``{(window, column): NumericAggregate}``; a window without any usable value of a
        column has ``n == 0``.
    """
    from pyspark.sql import Window  # heavy, optional (see _functions)

    F = _functions()
    session = data.sparkSession
    n_ref = [int(reference[c][1].sum()) for c in columns]
    ref = session.createDataFrame(_reference_table(columns, reference), f"{_C} int, {_V} double, {_REF} long")
    ids = session.createDataFrame([(int(w),) for w in windows], f"{WINDOW} long")
    replicated = ref.crossJoin(F.broadcast(ids)).select(WINDOW, _C, _V, F.lit(0).cast("long").alias(_CUR), _REF)
    current = distinct_values(data, columns).select(WINDOW, _C, _V, _CUR, F.lit(0).cast("long").alias(_REF))
    merged = current.unionByName(replicated)

    part = Window.partitionBy(WINDOW, _C)
    ordered = part.orderBy(_V)  # frame: every row up to and including the current value's peers
    n1 = _pick(n_ref, F.col(_C)).cast("long")
    n2, fr, fc = F.col("n2"), F.col("fr"), F.col("fc")
    width = F.col("next") - F.col(_V)
    exact = (n1.cast("double") * (n1 + n2).cast("double")) < F.lit(EXACT_COUNTS_LIMIT)
    gap = F.try_divide(fr, n1) - F.try_divide(fc, n2)
    term = (
        F.when(F.col("next").isNull() | (n2 == 0), F.lit(0.0))
        .when(exact, F.abs(n2 * fr - n1 * fc).cast("double") * width)
        .otherwise(F.abs(gap) * width)
    )
    running = merged.select(
        WINDOW, _C, _V, _CUR,
        F.sum(_REF).over(ordered).alias("fr"),
        F.sum(_CUR).over(ordered).alias("fc"),
        F.sum(_CUR).over(part).alias("n2"),
        F.sum(F.when(F.col(_CUR) > 0, 1).otherwise(0)).over(part).alias("nunique"),
        F.lead(_V).over(ordered).alias("next"),
    )  # fmt: skip
    small = (F.col(_CUR) > 0) & (F.col("nunique") <= _pick([gather.get(c, 0) for c in columns], F.col(_C)))
    rows = (
        running.groupBy(WINDOW, _C)
        .agg(
            F.max("n2").alias("n"),
            F.max("nunique").alias("nunique"),
            F.sum(F.when(F.col("next").isNull() | (F.col("next") != F.col(_V)), 1).otherwise(0)).alias("union"),
            F.min(F.when(F.col(_CUR) > 0, F.col(_V))).alias("low"),
            F.max(F.when(F.col(_CUR) > 0, F.col(_V))).alias("high"),
            F.max(gap).alias("max_gap"),
            F.min(gap).alias("min_gap"),
            F.sum(term).alias("wasserstein_sum"),
            F.collect_list(F.when(small, F.struct(F.col(_V).alias("v"), F.col(_CUR).alias("k")))).alias("values"),
        )
        .collect()
    )
    out = {}
    nan = float("nan")
    for r in rows:
        values = None
        if r["values"]:
            pairs = sorted((p["v"], p["k"]) for p in r["values"])
            values = (np.array([p[0] for p in pairs], dtype=np.float64), np.array([p[1] for p in pairs], np.int64))
        out[int(r[WINDOW]), columns[r[_C]]] = NumericAggregate(
            n=int(r["n"]),
            nunique=int(r["nunique"]),
            union=int(r["union"]),
            low=nan if r["low"] is None else float(r["low"]),
            high=nan if r["high"] is None else float(r["high"]),
            max_gap=nan if r["max_gap"] is None else float(r["max_gap"]),
            min_gap=nan if r["min_gap"] is None else float(r["min_gap"]),
            wasserstein_sum=float(r["wasserstein_sum"] or 0.0),
            values=values,
        )
    return out


def _reference_table(columns: Sequence[str], reference: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> Any:
    """The reference's distinct values and counts as one pandas frame (shipped through Arrow)."""
    import pandas as pd

    return pd.DataFrame(
        {
            _C: np.repeat(np.arange(len(columns), dtype=np.int32), [len(reference[c][0]) for c in columns]),
            _V: np.concatenate([reference[c][0] for c in columns]).astype(np.float64),
            _REF: np.concatenate([np.asarray(reference[c][1], dtype=np.int64) for c in columns]),
        }
    )


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
