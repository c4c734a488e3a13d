"""Strategies replayed on the model bank: decisions from stored predictions, errors by arithmetic.

:func:`simulate` walks the boundaries like the engine (:func:`modelmedic.backtest.engine.walk`)
and takes the same decisions from the same information: at boundary ``w`` a trigger sees
the deployed model's predictions before ``w`` and the labels before the cutoff ``w - delay``
(CUSUM, performance), the features of the latest window (drift, estimated MAE), never
anything later. The schedule it returns (which model is deployed at which boundary) is
scored by :func:`evaluate` from the bank's per-window error sums, in the engine's order of
summation, so a strategy's MAE on the bank equals its walk-forward replay exactly.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from modelmedic.backtest.bank import REFERENCE, ModelBank, training_rows
from modelmedic.backtest.cache import limit_threads
from modelmedic.backtest.engine import RetrainPoint, StrategyRun
from modelmedic.errors import ConfigError, DataError
from modelmedic.estimation import LossEstimator
from modelmedic.retraining.error_triggers import (
    DLE_HOLDOUT,
    CusumTrigger,
    EstimatedTrigger,
    cusum_statistic,
    cusum_threshold,
)
from modelmedic.retraining.strategies import Strategy
from modelmedic.retraining.triggers import Deployment, DriftTrigger, Never, PerformanceTrigger, Periodic, _nanmean

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from modelmedic.backtest.engine import StrategyRun
    from modelmedic.retraining.drift_cache import DriftCache


@dataclass
class Scored:
    """A schedule's score: MAE, retrains, the retrain events ``(window, model key)``."""

    name: str
    events: list[tuple[int, str]]
    abs_error: float
    squared_error: float
    rows: int
    window_abs: list[float] = field(repr=False, default_factory=list)
    window_squared: list[float] = field(repr=False, default_factory=list)
    reasons: list[str] = field(repr=False, default_factory=list)

    @property
    def mae(self) -> float:
        """Row-weighted MAE over every labelled row."""
        return self.abs_error / self.rows if self.rows else float("nan")

    @property
    def retrains(self) -> int:
        """Number of retrains."""
        return len(self.events)


def evaluate(bank: ModelBank, events: list[tuple[int, str]], name: str = "schedule") -> Scored:
    """Score the schedule ``events`` (retrain before window ``w`` with model ``key``), in window order.

    Raises:
        ConfigError: for events out of order or a model the bank lacks.
    """
    if any(b[0] <= a[0] for a, b in itertools.pairwise(events)):
        raise ConfigError("a schedule's retrains must be at increasing windows")
    serving, upcoming = REFERENCE, list(events)
    scored = Scored(name, list(events), 0.0, 0.0, 0)
    for w in range(len(bank.windows)):
        while upcoming and upcoming[0][0] == w:
            serving = upcoming.pop(0)[1]
            if not bank.has(serving):
                raise ConfigError(f"the model bank holds no model '{serving}'")
        absolute, squared = bank.window_sums(serving)
        n = int(bank.window_rows[w])
        a, s = (float(absolute[w]), float(squared[w])) if n else (0.0, 0.0)
        scored.window_abs.append(a)
        scored.window_squared.append(s)
        scored.abs_error += a
        scored.squared_error += s
        scored.rows += n
    return scored


@dataclass
class _Deployed:
    key: str
    deployed_at: pd.Timestamp
    cutoff: pd.Timestamp
    policy: Any = None


class Simulator:
    """Replays strategies on a bank, sharing what their triggers compute (drift, CUSUM, DLE)."""

    def __init__(self, bank: ModelBank, drift: DriftCache) -> None:
        self.bank = bank
        self.drift = drift
        self._cusums: dict[str, tuple[pd.DatetimeIndex, tuple[np.ndarray, float] | None]] = {}
        self._estimates: dict[str, np.ndarray | None] = {}
        self._deployments: dict[str, Deployment] = {}

    # -- per-model facts ----------------------------------------------------------------

    def _rows(self, begin: pd.Timestamp, end: pd.Timestamp) -> tuple[int, int]:
        index = self.bank.frame.index
        return int(index.searchsorted(begin)), int(index.searchsorted(end))

    def _alarm(self, deployed: _Deployed, factor: float) -> pd.Timestamp | None:
        """When the deployed model's CUSUM first alarms on labelled rows (``None``: never)."""
        # lazy: numpy only where arrays are computed
        import numpy as np

        if deployed.key not in self._cusums:
            lo, hi = self._rows(deployed.deployed_at, self.bank.frame.index[-1] + self.bank.length)
            actual, predicted = self.bank.actual[lo:hi], self.bank.predict(deployed.key, lo, hi)
            known = ~(np.isnan(actual) | np.isnan(predicted))
            index = self.bank.frame.index[lo:hi][known]
            errors, hours = np.abs(predicted - actual)[known], index.hour.to_numpy()
            calibration = int((index < deployed.deployed_at + self.bank.length).sum())
            statistic = cusum_statistic(errors, hours, calibration) if 0 < calibration < len(errors) else None
            self._cusums[deployed.key] = (index[calibration:], statistic)
        index, statistic = self._cusums[deployed.key]
        if statistic is None:
            return None
        path, calibration_max = statistic
        over = np.flatnonzero(path >= cusum_threshold(factor, calibration_max))
        return index[int(over[0])] if over.size else None

    def _estimated(self, deployed: _Deployed) -> np.ndarray | None:
        """The loss estimator's estimates for every row from the model's deployment on."""
        if deployed.key not in self._estimates:
            bank, estimates = self.bank, None
            shadow = bank.shadow_key(deployed.key)
            lo, hi = self._rows(deployed.cutoff - DLE_HOLDOUT * bank.length, deployed.cutoff)
            if bank.has(shadow) and hi > lo:
                held = bank.frame.iloc[lo:hi]
                known = held[bank.schema.target].notna().to_numpy()
                try:
                    with limit_threads():
                        estimator = LossEstimator(bank.schema).fit(
                            held.loc[known], bank.predict(shadow, lo, hi)[known], bank.actual[lo:hi][known]
                        )
                        begin, _ = self._rows(deployed.deployed_at, deployed.deployed_at)
                        rows = bank.frame.iloc[begin:]
                        estimates = estimator.estimate(rows, bank.predict(deployed.key, begin, len(bank.frame)))
                except DataError:
                    estimates = None
            self._estimates[deployed.key] = estimates
        return self._estimates[deployed.key]

    def first_model_estimates(self) -> np.ndarray | None:
        """The loss estimator's estimates of the reference model, every row from its deployment on."""
        return self._estimated(_Deployed(REFERENCE, self.bank.reference_cutoff, self.bank.reference_cutoff))

    def _deployment(self, deployed: _Deployed) -> Deployment:
        """An engine :class:`Deployment` for the drift engine (training rows, no model)."""
        if deployed.key not in self._deployments:
            policy = None if deployed.policy is None else deployed.policy.spec
            rows, _ = training_rows(self.bank.frame, self.bank.config, policy, deployed.cutoff)
            self._deployments[deployed.key] = Deployment(
                deployed.key, None, rows, deployed.cutoff, deployed.deployed_at, schema=self.bank.schema
            )
        return self._deployments[deployed.key]

    # -- decisions ----------------------------------------------------------------------

    def decide(self, trigger: Any, deployed: _Deployed, now: pd.Timestamp) -> tuple[bool, str]:
        """The trigger's decision at ``now`` for ``deployed``, from what is known at ``now``.

        Raises:
            ConfigError: for a trigger the bank cannot replay.
        """
        bank, window = self.bank, self.bank.length
        cutoff = now - bank.delay
        if isinstance(trigger, Periodic):
            period = trigger.period if trigger.period is not None else trigger.windows * window
            return now - deployed.deployed_at >= period, "periodic"
        if isinstance(trigger, PerformanceTrigger):
            if cutoff < deployed.deployed_at + trigger.patience * window:
                return False, "waiting"
            first = self._errors(deployed, deployed.deployed_at, min(deployed.deployed_at + window, cutoff))
            reference_mae = _nanmean(first)
            recent = [
                _nanmean(
                    self._errors(deployed, max(deployed.deployed_at, cutoff - (k + 1) * window), cutoff - k * window)
                )
                for k in range(trigger.patience)
            ]
            if math.isnan(reference_mae) or any(math.isnan(m) for m in recent):
                return False, "no labels"
            return all(m > trigger.factor * reference_mae for m in recent), "performance"
        if isinstance(trigger, CusumTrigger):
            if cutoff < deployed.deployed_at + window:
                return False, "waiting"
            alarm = self._alarm(deployed, trigger.factor)
            return alarm is not None and alarm < cutoff, "cusum"
        if isinstance(trigger, EstimatedTrigger):
            if now < deployed.deployed_at + window:
                return False, "waiting"
            estimates = self._estimated(deployed)
            if estimates is None:
                return False, "no estimator"
            first, latest = (
                self._mean_estimate(estimates, deployed, deployed.deployed_at, deployed.deployed_at + window),
                self._mean_estimate(estimates, deployed, now - window, now),
            )
            return latest > trigger.ratio * first, "estimated"
        if isinstance(trigger, DriftTrigger):
            lo, hi = self._rows(now - window, now)
            if hi == lo or now <= deployed.deployed_at:
                return False, "no window"
            latest = bank.frame.iloc[lo:hi].drop(columns=[bank.schema.target], errors="ignore")
            result = self.drift.drift(self._deployment(deployed), latest, trigger.columns)
            if trigger.top is not None:
                return result.n_drifted >= trigger.top, "drift"
            if trigger.columns is not None and trigger.share is None:
                return any(c in trigger.columns for c in result.drifted_columns), "drift"
            return result.share is not None and result.share >= trigger.share, "drift"
        raise ConfigError(f"the model bank cannot replay the trigger '{trigger.spec}'")

    def _errors(self, deployed: _Deployed, begin: pd.Timestamp, end: pd.Timestamp) -> np.ndarray:
        # lazy: numpy only where arrays are computed
        import numpy as np

        lo, hi = self._rows(begin, end)
        return np.abs(self.bank.predict(deployed.key, lo, hi) - self.bank.actual[lo:hi])

    def _mean_estimate(
        self, estimates: np.ndarray, deployed: _Deployed, begin: pd.Timestamp, end: pd.Timestamp
    ) -> float:
        lo, hi = self._rows(begin, end)
        start, _ = self._rows(deployed.deployed_at, deployed.deployed_at)
        chosen = estimates[lo - start : hi - start]
        return float(chosen.mean()) if len(chosen) else float("nan")

    def simulate(self, strategy: Strategy) -> Scored:
        """Replay ``strategy`` on the bank and score its schedule.

        Raises:
            ConfigError: for a strategy the bank cannot replay (its training window is not in the bank).
        """
        bank = self.bank
        policy = strategy.policy
        if not isinstance(strategy.trigger, Never) and policy.spec not in bank.policies:
            raise ConfigError(f"'{strategy.name}': the training window {policy.spec} is not in the model bank")
        deployed = _Deployed(REFERENCE, bank.reference_cutoff, bank.reference_cutoff)
        events: list[tuple[int, str]] = []
        reasons: list[str] = []
        if not isinstance(strategy.trigger, Never):
            for w, now in enumerate(bank.boundaries):
                retrain, reason = self.decide(strategy.trigger, deployed, now)
                if retrain and bank.cutoffs[w] > deployed.cutoff:
                    key = bank.model_key(policy.spec, w)
                    deployed = _Deployed(key, now, bank.cutoffs[w], policy)
                    events.append((w, key))
                    reasons.append(reason)
        scored = evaluate(bank, events, strategy.name)
        scored.reasons = reasons
        return scored


def to_run(bank: ModelBank, scored: Scored) -> StrategyRun:
    """The engine's :class:`StrategyRun` for a scored schedule (its per-window errors and predictions)."""
    # lazy: numpy only where arrays are computed
    import numpy as np

    predictions = np.full(len(bank.frame), np.nan)
    serving, upcoming = REFERENCE, list(scored.events)
    points = []
    for w, (lo, hi) in enumerate(bank.bounds):
        if upcoming and upcoming[0][0] == w:
            serving = upcoming.pop(0)[1]
            reason = scored.reasons[len(points)] if len(scored.reasons) > len(points) else "scheduled"
            canonical = bank.alias[serving]
            points.append(
                RetrainPoint(
                    w, bank.boundaries[w], reason, bank.training_size[canonical], bank.train_seconds[canonical]
                )
            )
        predictions[lo:hi] = bank.predict(serving, lo, hi)
    rows = [int(n) for n in bank.window_rows]
    run = StrategyRun(
        scored.name, [], [], rows, points, predictions, scored.abs_error, scored.squared_error, scored.rows
    )
    run.window_mae = [a / n if n else float("nan") for a, n in zip(scored.window_abs, rows, strict=True)]
    run.window_rmse = [(s / n) ** 0.5 if n else float("nan") for s, n in zip(scored.window_squared, rows, strict=True)]
    return run
