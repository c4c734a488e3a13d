"""Data quality of a window against its reference: row count, missing values, non-finite
values (``inf``, ``-inf``), values outside the reference range and categories never seen in
the reference.

A :class:`QualityProfile` is fitted once on the reference (ranges of numerical columns, the
values of categorical ones) and then checks any number of windows::

    profile = QualityProfile.fit(reference, schema.numerical, schema.categorical)
    profile.check(window).to_metrics()   # {"rows": 168.0, "missing_share": 0.0, ...}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from modelmedic.errors import DataError

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class QualityResult:
    """Data quality of one window.

    Attributes:
        rows: Number of rows in the window.
        missing: Missing values per column (a column absent from the window counts as
            entirely missing).
        out_of_range: Per numerical column, finite values below the reference minimum or
            above its maximum.
        unseen: Per categorical column, values that never occur in the reference.
        unseen_values: Per categorical column, the unseen values themselves (sorted, as text).
        non_finite: Per numerical column, ``inf`` and ``-inf`` values (drift tests and the
            model leave them out, as missing values).
    """

    rows: int
    missing: dict[str, int]
    out_of_range: dict[str, int]
    unseen: dict[str, int]
    unseen_values: dict[str, list[str]] = field(default_factory=dict)
    non_finite: dict[str, int] = field(default_factory=dict)

    @property
    def missing_share(self) -> float:
        """Missing cells over all checked cells (NaN for an empty window)."""
        cells = self.rows * len(self.missing)
        return sum(self.missing.values()) / cells if cells else float("nan")

    @property
    def issues(self) -> list[str]:
        """Readable problems, e.g. ``"temp: 3 values outside the reference range"``."""
        found = [f"{c}: {n} missing" for c, n in self.missing.items() if n]
        found += [f"{c}: {n} non-finite (inf or -inf)" for c, n in self.non_finite.items() if n]
        found += [f"{c}: {n} outside the reference range" for c, n in self.out_of_range.items() if n]
        found += [
            f"{c}: {n} values of unseen categories {', '.join(self.unseen_values.get(c, []))}"
            for c, n in self.unseen.items()
            if n
        ]
        return found

    def _counts(self) -> tuple[tuple[str, dict[str, int]], ...]:
        return (
            ("missing", self.missing),
            ("non_finite", self.non_finite),
            ("out_of_range", self.out_of_range),
            ("unseen", self.unseen),
        )

    def to_metrics(self) -> dict[str, float]:
        """Flat metrics: ``rows``, ``missing_share`` and ``missing/<col>``,
        ``non_finite/<col>``, ``out_of_range/<col>``, ``unseen/<col>`` counts."""
        metrics = {"rows": float(self.rows), "missing_share": self.missing_share}
        for name, counts in self._counts():
            metrics.update({f"{name}/{col}": float(n) for col, n in counts.items()})
        return metrics

    def tracked_metrics(self) -> dict[str, float]:
        """The metrics worth a chart: :meth:`to_metrics` without its zero per-column counts
        (a flat chart per column and kind), plus the totals ``missing``, ``non_finite``,
        ``out_of_range`` and ``unseen``."""
        metrics = {k: v for k, v in self.to_metrics().items() if v or "/" not in k}
        metrics.update({name: float(sum(counts.values())) for name, counts in self._counts()})
        return metrics

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (counts only where non-zero)."""
        return {
            "rows": self.rows,
            "missing_share": self.missing_share,
            "missing": {c: n for c, n in self.missing.items() if n},
            "non_finite": {c: n for c, n in self.non_finite.items() if n},
            "out_of_range": {c: n for c, n in self.out_of_range.items() if n},
            "unseen": {c: self.unseen_values[c] for c, n in self.unseen.items() if n},
        }


@dataclass(frozen=True)
class QualityProfile:
    """What a window is checked against: reference ranges and categories.

    Attributes:
        ranges: ``(min, max)`` of each numerical column in the reference (NaN, NaN when
            the reference holds no value).
        categories: The values of each categorical column seen in the reference.
    """

    ranges: dict[str, tuple[float, float]]
    categories: dict[str, frozenset[Any]]

    @property
    def columns(self) -> list[str]:
        """Checked columns, numerical first."""
        return [*self.ranges, *self.categories]

    @classmethod
    def fit(cls, reference: pd.DataFrame, numerical: Sequence[str], categorical: Sequence[str] = ()) -> QualityProfile:
        """Learn the ranges and categories of ``reference``.

        Raises:
            DataError: when the reference lacks a column.
        """
        missing = [c for c in [*numerical, *categorical] if c not in reference.columns]
        if missing:
            raise DataError(f"the reference lacks the columns {', '.join(missing)}")
        ranges = {}
        for col in numerical:
            values = reference[col].to_numpy(dtype=float)
            values = values[np.isfinite(values)]
            ranges[col] = (float(values.min()), float(values.max())) if values.size else (np.nan, np.nan)
        categories = {col: frozenset(reference[col].dropna().unique().tolist()) for col in categorical}
        return cls(ranges, categories)

    def check(self, current: pd.DataFrame) -> QualityResult:
        """Count missing values, out-of-range values and unseen categories in ``current``."""
        rows = len(current)
        present = [c for c in self.columns if c in current.columns]
        counts = current[present].isna().sum()
        missing = {c: int(counts[c]) if c in counts.index else rows for c in self.columns}
        non_finite = non_finite_counts(current, list(self.ranges))
        out_of_range = dict.fromkeys(self.ranges, 0)
        ranged = [c for c, (low, _) in self.ranges.items() if c in current.columns and not np.isnan(low)]
        if ranged:
            values = current[ranged].to_numpy(dtype=float)
            low, high = (np.array([self.ranges[c][i] for c in ranged]) for i in (0, 1))
            outside = np.count_nonzero(((values < low) | (values > high)) & np.isfinite(values), axis=0)
            out_of_range.update({c: int(n) for c, n in zip(ranged, outside, strict=True)})
        unseen = dict.fromkeys(self.categories, 0)
        unseen_values: dict[str, list[str]] = {}
        for col, seen in self.categories.items():
            if col not in current.columns:
                continue
            values = current[col]
            new = values.notna() & ~values.isin(list(seen))
            unseen[col] = int(new.sum())
            if unseen[col]:
                unseen_values[col] = sorted(str(v) for v in values[new].unique())
        return QualityResult(rows, missing, out_of_range, unseen, unseen_values, non_finite)


def non_finite_counts(frame: pd.DataFrame, columns: Sequence[str]) -> dict[str, int]:
    """The ``inf`` and ``-inf`` values in each of ``columns`` of ``frame`` (0 for a column that
    is absent or does not hold numbers).

    Drift tests leave such values out, as evidently does, and the model cannot score them:
    this count is how they are reported instead of vanishing.
    """
    # lazy: pandas costs ~0.4 s to import
    import pandas as pd

    counts = dict.fromkeys(columns, 0)
    for col in columns:
        if col in frame.columns and pd.api.types.is_float_dtype(frame[col]):
            counts[col] = int(np.isinf(frame[col].to_numpy(dtype=float, na_value=np.nan)).sum())
    return counts
