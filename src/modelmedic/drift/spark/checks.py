"""What a monitoring job measures in each window besides drift, computed by Spark in the same
job that counts the window's rows: data quality (:mod:`modelmedic.quality`) and, where
labels exist, the model's error (:func:`modelmedic.performance.regression_metrics`).

Only one row per window reaches the driver: sums and counts from which the driver forms
the same numbers as the pandas code (the same definitions; sums in another order, so equal
to the last few bits).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from modelmedic.performance import METRICS
from modelmedic.quality import QualityProfile, QualityResult

if TYPE_CHECKING:
    from pyspark.sql import Column, Row

_FRACTIONAL = ("float", "double")


@dataclass(frozen=True)
class WindowChecks:
    """What to measure in each window besides drift.

    Attributes:
        profile: The reference's quality profile (ranges and categories).
        target: The label column (``None``: no labels, no error measured).
        prediction: The model's prediction column.
    """

    profile: QualityProfile
    target: str | None = None
    prediction: str | None = None

    @property
    def columns(self) -> list[str]:
        """Every column the checks read."""
        wanted = [*self.profile.columns, *([self.target, self.prediction] if self.target else [])]
        return [c for c in dict.fromkeys(wanted) if c]


@dataclass(frozen=True)
class WindowMeasures:
    """One window's checks as Spark measured them.

    Attributes:
        quality: Its data quality, as ``QualityProfile.check`` gives it.
        labelled: Rows with a label.
        performance: ``regression_metrics`` of its labelled rows (empty without labels).
    """

    quality: QualityResult
    labelled: int
    performance: dict[str, float]


def _functions() -> Any:
    # lazy: pyspark is an optional extra
    from pyspark.sql import functions  # heavy, optional: only the spark engine imports this module

    return functions


def _missing(column: str, kind: str) -> Column:
    F = _functions()
    value = F.col(column)
    return value.isNull() | F.isnan(value) if kind in _FRACTIONAL else value.isNull()


def check_aggregates(checks: WindowChecks, types: dict[str, str]) -> list[Column]:
    """The aggregate expressions (per window) the checks need, to add to the row counts.

    Args:
        checks: What to measure.
        types: Spark type of each column (``dict(frame.dtypes)``).

    Returns:
        Aliased aggregate columns, read back by :func:`window_measures`.
    """
    F = _functions()
    count = F.count  # counts the non-null values: a condition counts where it holds
    out = []
    for i, c in enumerate(checks.profile.columns):
        out.append(count(F.when(_missing(c, types[c]), 1)).alias(f"q_missing{i}"))
    for i, (c, (low, high)) in enumerate(checks.profile.ranges.items()):
        value = F.col(c).cast("double")
        infinite = F.abs(value) == F.lit(float("inf"))
        out.append(count(F.when(infinite, 1) if types[c] in _FRACTIONAL else F.lit(None)).alias(f"q_inf{i}"))
        outside = value.isNotNull() & ~F.isnan(value) & ~infinite & ((value < low) | (value > high))
        out.append(count(F.when(outside, 1) if not math.isnan(low) else F.lit(None)).alias(f"q_range{i}"))
    if checks.target and checks.prediction:
        actual, predicted = F.col(checks.target).cast("double"), F.col(checks.prediction).cast("double")
        labelled = actual.isNotNull() & ~F.isnan(actual)
        ok = labelled & predicted.isNotNull() & ~F.isnan(predicted)
        error = F.when(ok, predicted - actual)
        out += [
            count(F.when(labelled, 1)).alias("m_labelled"),
            count(error).alias("m_n"),
            F.avg(F.abs(error)).alias("m_mae"),
            F.avg(error * error).alias("m_mse"),
            F.avg(error).alias("m_bias"),
            F.avg(F.when(ok & (actual != 0), F.abs(error / actual))).alias("m_mape"),
            F.sum(error * error).alias("m_sse"),
            F.var_pop(F.when(ok, actual)).alias("m_var"),
        ]
    return out


def window_measures(
    checks: WindowChecks, row: Row | None, rows: int, categories: dict[str, dict[Any, int]]
) -> WindowMeasures:
    """One window's :class:`WindowMeasures` from its aggregate row.

    Args:
        checks: What was measured.
        row: The window's row of :func:`check_aggregates` (``None``: the window holds no rows).
        rows: The window's rows.
        categories: ``{column: {category: count}}`` of the window's categorical columns.
    """
    nan = float("nan")
    profile = checks.profile

    def read(name: str) -> int:
        return 0 if row is None else int(row[name] or 0)

    missing = {c: read(f"q_missing{i}") for i, c in enumerate(profile.columns)}
    non_finite = {c: read(f"q_inf{i}") for i, c in enumerate(profile.ranges)}
    out_of_range = {c: read(f"q_range{i}") for i, c in enumerate(profile.ranges)}
    unseen, unseen_values = dict.fromkeys(profile.categories, 0), {}
    for c, seen in profile.categories.items():
        new = {v: k for v, k in categories.get(c, {}).items() if v not in seen}
        unseen[c] = sum(new.values())
        if new:
            unseen_values[c] = sorted(str(v) for v in new)
    quality = QualityResult(rows, missing, out_of_range, unseen, unseen_values, non_finite)
    if not (checks.target and checks.prediction):
        return WindowMeasures(quality, 0, {})
    n = read("m_n")
    if n == 0:
        return WindowMeasures(quality, read("m_labelled"), dict.fromkeys(METRICS, nan))
    assert row is not None
    total = float(row["m_var"]) * n
    performance = {
        "mae": float(row["m_mae"]),
        "rmse": math.sqrt(float(row["m_mse"])),
        "mape": nan if row["m_mape"] is None else float(row["m_mape"]),
        "bias": float(row["m_bias"]),
        "r2": 1.0 - float(row["m_sse"]) / total if total > 0 else nan,
    }
    return WindowMeasures(quality, read("m_labelled"), performance)
