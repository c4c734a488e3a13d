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
        value, as text), ``rows``, ``mae`` and ``bias`` (mean of prediction - actual);
        rows with a missing actual or prediction are ignored.
    """
    import pandas as pd

    error = np.asarray(y_pred, dtype=float) - np.asarray(y_true, dtype=float)
    ok = ~np.isnan(error)
    columns = ["segment", "value", "rows", "mae", "bias"]
    parts = []
    for col in segments.columns:
        keys = segments[col].to_numpy()[ok]
        table = pd.DataFrame({"key": keys, "abs": np.abs(error[ok]), "err": error[ok]})
        grouped = table.groupby("key", observed=True, sort=True).agg(
            rows=("abs", "size"), mae=("abs", "mean"), bias=("err", "mean")
        )
        grouped = grouped.reset_index().rename(columns={"key": "value"})
        grouped.insert(0, "segment", col)
        grouped["value"] = grouped["value"].astype(str)
        parts.append(grouped)
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True)[columns]
    out["rows"] = out["rows"].astype(int)
    return out


def worst_segments(
    current: pd.DataFrame, reference: pd.DataFrame | None = None, top: int = 3, min_rows: int = 5
) -> pd.DataFrame:
    """The segments of a window where the model fails most.

    Args:
        current: The window's :func:`segment_errors`.
        reference: The reference period's :func:`segment_errors`; when given, segments are
            ranked by how much their MAE grew (``mae - reference_mae``), else by MAE.
        top: How many segments to return.
        min_rows: Segments with fewer rows are ignored (their error is noise).

    Returns:
        Up to ``top`` rows of ``current`` with ``reference_mae``, ``mae_ratio`` (MAE over
        the reference MAE of the same segment) and ``rank`` (1 = worst) added.
    """
    table = current.loc[current["rows"] >= min_rows].copy()
    if reference is not None and not reference.empty:
        base = reference[["segment", "value", "mae"]].rename(columns={"mae": "reference_mae"})
        table = table.merge(base, on=["segment", "value"], how="left")
    else:
        table["reference_mae"] = np.nan
    table["mae_ratio"] = table["mae"] / table["reference_mae"].where(table["reference_mae"] > 0)
    growth = (table["mae"] - table["reference_mae"]).fillna(table["mae"])
    order = growth.sort_values(ascending=False, kind="stable").index
    table = table.loc[order].head(top).reset_index(drop=True)
    table["rank"] = range(1, len(table) + 1)
    return table
