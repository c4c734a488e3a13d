"""Triggers on the deployed model's error: a CUSUM on labelled errors, and an estimate without labels.

* ``cusum:4`` — a one-sided CUSUM on the absolute error stream of the deployed model,
  each error standardised by the mean and standard deviation of its hour of day over
  the model's first window of labelled production rows (the calibration window):
  ``S = max(0, S + z - k)`` with ``k`` = :data:`CUSUM_SLACK`. The threshold is calibrated
  on that window so that it does not alarm on it: ``h = factor x max(1, max S over the
  calibration window)``. It fires once ``S`` reaches ``h`` on a labelled row after it.
* ``estimated:1.5`` — label-free: a Direct Loss Estimation model
  (:class:`modelmedic.estimation.LossEstimator`) estimates the MAE of the latest window
  from its features and the deployed model's predictions; the trigger fires when it
  exceeds ``ratio`` x the estimate for the model's first production window. The estimator
  is fitted on the last :data:`DLE_HOLDOUT` windows of labels before the model's label
  cutoff, with the errors of a *shadow* model: the same training policy applied at that
  earlier cutoff, so the errors are out of sample.

Both see only a :class:`~modelmedic.retraining.strategies.BoundaryView` (no look-ahead).
The model bank (:mod:`modelmedic.backtest.bank`) evaluates the same rules from stored
predictions, with the same functions (:func:`cusum_statistic`, :func:`cusum_threshold`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelmedic.errors import ConfigError, DataError
from modelmedic.estimation import LossEstimator
from modelmedic.retraining.triggers import BoundaryView, Decision, Deployment, DriftLookup, Trigger, register_trigger

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

CUSUM_SLACK = 0.5  # k: standardised errors must exceed their calibration mean by this much to count
DLE_HOLDOUT = 2  # windows of labels the loss estimator learns from


def _positive(name: str, arg: str) -> float:
    try:
        value = float(arg)
    except ValueError:
        raise ConfigError(f"{name}:{arg}: give a positive number, e.g. {name}:2") from None
    if value <= 0:
        raise ConfigError(f"{name}:{arg}: the value must be positive")
    return value


def hourly_scale(errors: np.ndarray, hours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of ``errors`` for each hour of day (0-23).

    Hours without calibration rows use the pooled values; each deviation is at least
    half the pooled one (a handful of rows per hour understate the spread).
    """
    # lazy: numpy only where arrays are computed
    import numpy as np

    mean, sd = float(errors.mean()), float(errors.std())
    means, sds = np.full(24, mean), np.full(24, sd)
    for hour in np.unique(hours):
        chosen = errors[hours == hour]
        means[hour], sds[hour] = float(chosen.mean()), float(chosen.std())
    return means, np.maximum(sds, 0.5 * sd) + 1e-9


def cusum_path(z: np.ndarray, slack: float = CUSUM_SLACK) -> np.ndarray:
    """The one-sided CUSUM ``S_t = max(0, S_{t-1} + z_t - slack)`` from ``S_0 = 0``.

    Vectorised: ``S_t = C_t - min(C_0..C_t)`` with ``C`` the running sum of ``z - slack``
    and ``C_0 = 0`` (Lindley's recursion).
    """
    # lazy: numpy only where arrays are computed
    import numpy as np

    running = np.concatenate([[0.0], np.cumsum(z - slack)])
    return (running - np.minimum.accumulate(running))[1:]


def cusum_statistic(errors: np.ndarray, hours: np.ndarray, calibration: int) -> tuple[np.ndarray, float]:
    """The CUSUM after the calibration window and the largest CUSUM within it.

    Args:
        errors: Absolute errors of the deployed model, labelled rows in time order.
        hours: Their hours of day.
        calibration: How many of the first rows form the calibration window (at least one).

    Returns:
        ``(path, calibration_max)``: the CUSUM restarted after the calibration window, one
        value per later row, and the calibration window's own largest value.
    """
    means, sds = hourly_scale(errors[:calibration], hours[:calibration])
    z = (errors - means[hours]) / sds[hours]
    return cusum_path(z[calibration:]), float(cusum_path(z[:calibration]).max())


def cusum_threshold(factor: float, calibration_max: float) -> float:
    """The alarm threshold: ``factor`` x the calibration window's largest CUSUM (at least 1)."""
    return factor * max(1.0, calibration_max)


@register_trigger
class CusumTrigger(Trigger):
    """Retrain when a CUSUM on the hour-standardised absolute errors crosses its calibrated threshold."""

    name = "cusum"

    def __init__(self, arg: str | None) -> None:
        super().__init__(arg or "4")
        self.factor = _positive(self.name, self.arg)

    def decide(self, view: BoundaryView, deployed: Deployment, drift: DriftLookup | None) -> Decision:
        """Run the CUSUM over the labelled errors since deployment."""
        # lazy: numpy only where arrays are computed
        import numpy as np

        if view.label_cutoff < deployed.deployed_at + view.window:
            return Decision(False, "waiting for a full window of labels since deployment to calibrate")
        labelled = view.labelled()
        since = labelled.iloc[labelled.index.searchsorted(deployed.deployed_at) :]
        actual = since[view.target].to_numpy(dtype=float)
        predicted = view.predictions.to_numpy()[len(labelled) - len(since) : len(labelled)]
        known = ~(np.isnan(actual) | np.isnan(predicted))
        errors, hours = np.abs(predicted - actual)[known], since.index.hour.to_numpy()[known]
        calibration = int((since.index[known] < deployed.deployed_at + view.window).sum())
        if calibration == 0 or calibration == len(errors):
            return Decision(False, "no labelled errors after the calibration window")
        path, calibration_max = cusum_statistic(errors, hours, calibration)
        threshold = cusum_threshold(self.factor, calibration_max)
        over = np.flatnonzero(path >= threshold)
        if over.size:
            at = since.index[known][calibration + int(over[0])]
            return Decision(
                True, f"CUSUM of the hourly-standardised error crossed {threshold:.1f} at {at:%Y-%m-%d %H:%M}"
            )
        return Decision(False, f"CUSUM below its threshold {threshold:.1f}")


def shadow_training(
    deployed: Deployment, labelled: pd.DataFrame, cutoff: pd.Timestamp
) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The rows (and weights) the deployed model's policy picks at the earlier ``cutoff``.

    The reference model (no policy) keeps its own training rows before ``cutoff``.
    """
    if deployed.policy is None:
        return deployed.training.iloc[: deployed.training.index.searchsorted(cutoff)], None
    return deployed.policy.select(labelled.iloc[: labelled.index.searchsorted(cutoff)], cutoff)


def holdout_rows(labelled: pd.DataFrame, begin: pd.Timestamp, end: pd.Timestamp, target: str) -> pd.DataFrame:
    """The labelled rows in ``[begin, end)`` with a known target."""
    rows = labelled.iloc[labelled.index.searchsorted(begin) : labelled.index.searchsorted(end)]
    return rows.loc[rows[target].notna()]


def window_estimate(estimator: Any, view: BoundaryView, begin: pd.Timestamp, end: pd.Timestamp) -> float:
    """The estimated MAE of the deployed model over ``view.history`` rows in ``[begin, end)``."""
    lo, hi = view.history.index.searchsorted(begin), view.history.index.searchsorted(end)
    rows = view.history.iloc[lo:hi]
    return float(estimator.estimate(rows, view.predictions.to_numpy()[lo:hi]).mean()) if len(rows) else float("nan")


@register_trigger
class EstimatedTrigger(Trigger):
    """Retrain when the estimated MAE (no labels needed) exceeds ``ratio`` x that of the model's first window."""

    name = "estimated"

    def __init__(self, arg: str | None) -> None:
        super().__init__(arg or "1.5")
        self.ratio = _positive(self.name, self.arg)
        self._estimators: dict[str, Any] = {}

    def estimator(self, view: BoundaryView, deployed: Deployment) -> Any:
        """The deployed model's loss estimator (``None`` when too few labels), fitted once."""
        # lazy: scikit-learn, loaded only when models are fitted
        from sklearn.base import clone

        # lazy: modelmedic.model imports numpy
        from modelmedic.model import fit, predict

        if deployed.key not in self._estimators:
            labelled = view.labelled()
            cutoff, begin = deployed.label_cutoff, deployed.label_cutoff - DLE_HOLDOUT * view.window
            rows, weights = shadow_training(deployed, labelled, begin)
            held = holdout_rows(labelled, begin, cutoff, view.target)
            estimator = None
            if rows[view.target].notna().any() and len(held):
                shadow = fit(clone(deployed.model), rows, deployed.schema, sample_weight=weights)
                try:
                    estimator = LossEstimator(deployed.schema).fit(
                        held, predict(shadow, held, deployed.schema), held[view.target].to_numpy(dtype=float)
                    )
                except DataError:
                    estimator = None
            self._estimators[deployed.key] = estimator
        return self._estimators[deployed.key]

    def decide(self, view: BoundaryView, deployed: Deployment, drift: DriftLookup | None) -> Decision:
        """Compare the latest window's estimated MAE with the first production window's."""
        if view.now < deployed.deployed_at + view.window or deployed.schema is None:
            return Decision(False, "waiting for a first window since deployment")
        estimator = self.estimator(view, deployed)
        if estimator is None:
            return Decision(False, "too few labels before the model's cutoff to fit a loss estimator")
        first = window_estimate(estimator, view, deployed.deployed_at, deployed.deployed_at + view.window)
        latest = window_estimate(estimator, view, view.now - view.window, view.now)
        if latest > self.ratio * first:
            return Decision(True, f"estimated MAE {latest:.1f} > {self.ratio:g} x first window's {first:.1f}")
        return Decision(False, f"estimated MAE {latest:.1f} <= {self.ratio:g} x first window's {first:.1f}")
