"""Regression metrics per window and the segments where the model fails."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

METRICS = ("mae", "rmse", "mape", "bias", "r2")


def regression_metrics(y_true: np.ndarray | pd.Series, y_pred: np.ndarray | pd.Series) -> dict[str, float]:
    """Return MAE, RMSE, MAPE (over non-zero targets, as a fraction), bias and R².

    ``bias`` is the mean error ``prediction - actual`` (positive: the model over-predicts).
    Rows where either value is missing are ignored; with no rows every metric is NaN, and
    R² is NaN when the actual values are constant.
    """
    actual = np.asarray(y_true, dtype=float)
    predicted = np.asarray(y_pred, dtype=float)
    ok = ~(np.isnan(actual) | np.isnan(predicted))
    actual, predicted = actual[ok], predicted[ok]
    if actual.size == 0:
        return dict.fromkeys(METRICS, float("nan"))
    error = predicted - actual
    nonzero = actual != 0
    mape = float(np.mean(np.abs(error[nonzero] / actual[nonzero]))) if nonzero.any() else float("nan")
    total = float(np.sum((actual - actual.mean()) ** 2))
    r2 = 1.0 - float(np.sum(error**2)) / total if total > 0 else float("nan")
    return {
        "mae": float(np.mean(np.abs(error))),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mape": mape,
        "bias": float(np.mean(error)),
        "r2": r2,
    }


def error_ratio(current: dict[str, float], reference: dict[str, float], metric: str = "mae") -> float:
    """``current[metric] / reference[metric]``: how many times the reference error the window's
    error is (NaN when either is missing or the reference error is zero)."""
    now, then = current.get(metric, float("nan")), reference.get(metric, float("nan"))
    if not (np.isfinite(now) and np.isfinite(then)) or then == 0:
        return float("nan")
    return float(now / then)


def segment_errors(
    y_true: np.ndarray | pd.Series, y_pred: np.ndarray | pd.Series, segments: pd.DataFrame
) -> pd.DataFrame:
    """Error per segment: every value of every column of ``segments`` (aligned row by row
    with ``y_true`` / ``y_pred``), e.g. each hour of the day or each weather situation.

    Returns:
        One row per segment with the columns ``segment`` (the column name), ``value`` (its
        value, as text), ``rows``, ``mae`` and ``bias`` (mean of prediction - actual), in
        column order then value order; rows with a missing actual or prediction are ignored.
    """
    # lazy: pandas costs ~0.4 s to import
    import pandas as pd

    error = np.asarray(y_pred, dtype=float) - np.asarray(y_true, dtype=float)
    ok = ~np.isnan(error)
    error = error[ok]
    parts: dict[str, list] = {"segment": [], "value": [], "rows": [], "mae": [], "bias": []}
    for col in segments.columns:
        codes, values = pd.factorize(segments[col].to_numpy()[ok], sort=True)
        kept = codes >= 0  # a missing segment value belongs to no segment
        rows = np.bincount(codes[kept], minlength=len(values))
        absolute = np.bincount(codes[kept], weights=np.abs(error[kept]), minlength=len(values))
        signed = np.bincount(codes[kept], weights=error[kept], minlength=len(values))
        seen = rows > 0
        parts["segment"] += [col] * int(seen.sum())
        parts["value"] += [str(v) for v in np.asarray(values, dtype=object)[seen]]
        parts["rows"] += rows[seen].tolist()
        parts["mae"] += (absolute[seen] / rows[seen]).tolist()
        parts["bias"] += (signed[seen] / rows[seen]).tolist()
    return pd.DataFrame(parts).astype({"rows": int, "mae": float, "bias": float})


def worst_segments(
    current: pd.DataFrame, reference: pd.DataFrame | None = None, top: int = 3, min_rows: int = 5
) -> pd.DataFrame:
    """The segments of a window where the model fails most.

    Args:
        current: The window's :func:`segment_errors`.
        reference: The reference period's :func:`segment_errors`; when given, segments are
            ranked by how much their MAE grew (``mae - reference_mae``; segments unseen in
            the reference by their MAE), else by MAE.
        top: How many segments to return.
        min_rows: Segments with fewer rows are ignored (their error is noise).

    Returns:
        Up to ``top`` rows of ``current`` with ``reference_mae``, ``mae_ratio`` (MAE over
        the reference MAE of the same segment) and ``rank`` (1 = worst) added.
    """
    table = current.loc[current["rows"] >= min_rows].reset_index(drop=True)
    known: dict[tuple[str, str], float] = {}
    if reference is not None:
        known = dict(zip(zip(reference["segment"], reference["value"], strict=True), reference["mae"], strict=True))
    keys = zip(table["segment"], table["value"], strict=True)
    reference_mae = np.array([known.get(key, np.nan) for key in keys], dtype=float)
    mae = table["mae"].to_numpy(dtype=float)
    growth = np.where(np.isnan(reference_mae), mae, mae - reference_mae)
    order = np.argsort(-growth, kind="stable")[:top]
    worst = table.iloc[order].reset_index(drop=True)
    worst["reference_mae"] = reference_mae[order]
    with np.errstate(divide="ignore", invalid="ignore"):
        worst["mae_ratio"] = np.where(reference_mae[order] > 0, mae[order] / reference_mae[order], np.nan)
    worst["rank"] = np.arange(1, len(worst) + 1)
    return worst
