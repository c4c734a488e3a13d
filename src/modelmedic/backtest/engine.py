"""The walk-forward engine: replay the history window by window for each strategy.

At each window boundary a strategy sees only a :class:`~modelmedic.retraining.strategies.BoundaryView`
(copies of the earlier rows, targets blanked until their label delay has passed), decides
whether to retrain, and the deployed model then predicts the whole window before any of
its labels are known. Every strategy starts with the same reference model, trained on
the reference period.

Speed: a :class:`ModelStore` trains each distinct training set (policy + label cutoff +
model) once and shares the model among the strategies that ask for it, and predicts a
model's next windows in one call. Strategies are grouped by the training sets they can
share and the groups run in parallel processes, each with its own store.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from queue import Empty
from typing import TYPE_CHECKING, Any

from modelmedic.backtest.cache import ModelStore, limit_threads
from modelmedic.backtest.config import BacktestConfig
from modelmedic.errors import ConfigError, DataError
from modelmedic.retraining.drift_cache import DriftCache
from modelmedic.retraining.policies import parse_duration, window_length
from modelmedic.retraining.strategies import AnyStrategy, IncrementalStrategy, parse_strategy, training_set
from modelmedic.retraining.triggers import Deployment, DriftLookup, Never, Periodic, boundary_view
from modelmedic.windows import windows_after

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from modelmedic.schema import DatasetSchema
    from modelmedic.windows import Window

Progress = Callable[[int], None]


@dataclass
class RetrainPoint:
    """A retrain: before which window, why, on how many rows, at what training cost."""

    window: int
    at: pd.Timestamp
    reason: str
    rows: int
    train_seconds: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "window": self.window,
            "at": self.at.isoformat(),
            "reason": self.reason,
            "rows": self.rows,
            "train_seconds": round(self.train_seconds, 4),
        }


@dataclass
class StrategyRun:
    """One strategy's replay: errors per window, retrains and the predictions made."""

    name: str
    window_mae: list[float]
    window_rmse: list[float]
    window_rows: list[int]
    retrain_points: list[RetrainPoint]
    predictions: np.ndarray = field(repr=False)
    abs_error: float = 0.0
    squared_error: float = 0.0
    rows: int = 0

    @property
    def mae(self) -> float:
        """Row-weighted MAE over every labelled row of every window."""
        return self.abs_error / self.rows if self.rows else float("nan")

    @property
    def rmse(self) -> float:
        """Row-weighted RMSE over every labelled row of every window."""
        return (self.squared_error / self.rows) ** 0.5 if self.rows else float("nan")

    @property
    def retrains(self) -> int:
        """Number of times the deployed model was replaced."""
        return len(self.retrain_points)

    @property
    def train_seconds(self) -> float:
        """CPU seconds the strategy's retrains cost (counted in full even when shared)."""
        return sum(p.train_seconds for p in self.retrain_points)


@dataclass
class BacktestResult:
    """Every strategy's replay over the same windows."""

    runs: list[StrategyRun]
    windows: list[Window]
    config: BacktestConfig
    seconds: float
    evaluated_rows: int
    reference_mae: float


def _score(run: StrategyRun, actual: np.ndarray, predicted: np.ndarray) -> None:
    # lazy: numpy only where arrays are computed
    import numpy as np

    ok = ~(np.isnan(actual) | np.isnan(predicted))
    error = predicted[ok] - actual[ok]
    n = int(ok.sum())
    abs_sum, sq_sum = float(np.abs(error).sum()), float((error**2).sum())
    run.window_rows.append(n)
    run.window_mae.append(abs_sum / n if n else float("nan"))
    run.window_rmse.append((sq_sum / n) ** 0.5 if n else float("nan"))
    run.abs_error += abs_sum
    run.squared_error += sq_sum
    run.rows += n


def walk(strategy: AnyStrategy, store: ModelStore, drift: DriftLookup, progress: Progress | None = None) -> StrategyRun:
    """Replay the history for one strategy and return its errors and retrains.

    Raises:
        DataError: when a training set holds no labelled rows.
        ConfigError: for a drift trigger on unknown features.
    """
    # lazy: numpy only where arrays are computed
    import numpy as np

    if isinstance(strategy, IncrementalStrategy):
        return walk_incremental(strategy, store, progress)
    frame, target = store.frame, store.schema.target
    delay, length = parse_duration(store.config.label_delay), window_length(store.config.window)
    actual = frame[target].to_numpy(dtype=float)
    predictions = np.full(len(frame), np.nan)
    run = StrategyRun(strategy.name, [], [], [], [], predictions)
    deployed = store.reference()
    for window, (lo, hi) in zip(store.windows, store.bounds, strict=True):
        if not isinstance(strategy.trigger, Never):
            view = boundary_view(frame, target, window.begin, delay, length, predictions)
            decision = strategy.trigger.decide(view, deployed, drift)
            if decision.retrain and view.label_cutoff > deployed.label_cutoff:
                rows, weights, key = training_set(strategy, view, store.schema)
                model, seconds = store.model(key, rows, weights)
                deployed = Deployment(
                    key, model, rows, view.label_cutoff, window.begin, seconds, strategy.policy, store.schema
                )
                run.retrain_points.append(RetrainPoint(window.index, window.begin, decision.reason, len(rows), seconds))
        predictions[lo:hi] = store.predict(deployed, window.index)
        _score(run, actual[lo:hi], predictions[lo:hi])
        if progress:
            progress(1)
    return run


def walk_incremental(strategy: IncrementalStrategy, store: ModelStore, progress: Progress | None = None) -> StrategyRun:
    """Replay the history for an online learner updated with each window's new labels."""
    # lazy: numpy only where arrays are computed
    import numpy as np

    # lazy: modelmedic.model imports numpy
    from modelmedic.model import feature_frame
    from modelmedic.retraining.incremental import OnlineRegressor

    frame, schema = store.frame, store.schema
    delay, length = parse_duration(store.config.label_delay), window_length(store.config.window)
    reference = store.reference()
    labelled = reference.training.loc[reference.training[schema.target].notna()]
    learner = OnlineRegressor(strategy.learner, store.config.seed)
    learner.fit(feature_frame(labelled, schema), labelled[schema.target].to_numpy())
    learned_until = reference.label_cutoff
    actual = frame[schema.target].to_numpy(dtype=float)
    predictions = np.full(len(frame), np.nan)
    run = StrategyRun(strategy.name, [], [], [], [], predictions)
    for window, (lo, hi) in zip(store.windows, store.bounds, strict=True):
        view = boundary_view(frame, schema.target, window.begin, delay, length)
        known = view.labelled()
        new = known.iloc[known.index.searchsorted(learned_until) :]
        new = new.loc[new[schema.target].notna()]
        if len(new):
            began = time.process_time()
            learner.update(feature_frame(new, schema), new[schema.target].to_numpy())
            seconds = time.process_time() - began
            run.retrain_points.append(
                RetrainPoint(window.index, window.begin, f"online update with {len(new)} new labels", len(new), seconds)
            )
            learned_until = view.label_cutoff
        if hi > lo:
            predictions[lo:hi] = learner.predict(feature_frame(frame.iloc[lo:hi], schema))
        _score(run, actual[lo:hi], predictions[lo:hi])
        if progress:
            progress(1)
    return run


def _estimated_cost(strategies: list[AnyStrategy], n_windows: int) -> float:
    """A rough relative cost of a group of strategies (to start the costliest first)."""
    size = {"expanding": 1.0, "recency": 0.6, "sliding": 0.3}
    most = 0.0
    for s in strategies:
        if isinstance(s, IncrementalStrategy):
            return 0.3 * n_windows
        if isinstance(s.trigger, Periodic):
            retrains = n_windows / (s.trigger.windows or max(s.trigger.period / window_length("1W"), 1))
        else:
            retrains = 0.0 if isinstance(s.trigger, Never) else n_windows / 3
        most = max(most, retrains * size.get(s.policy.name, 1.0))
    return most + len(strategies)


def group_strategies(strategies: list[AnyStrategy], n_windows: int) -> list[list[AnyStrategy]]:
    """Strategies grouped by the models they can share, costliest group first."""
    groups: dict[str, list[AnyStrategy]] = {}
    for s in strategies:
        groups.setdefault(s.family, []).append(s)
    return sorted(groups.values(), key=lambda g: -_estimated_cost(g, n_windows))


def run_group(strategies: list[AnyStrategy], store: ModelStore, progress: Progress | None = None) -> list[StrategyRun]:
    """Replay a group of strategies sharing one model store."""
    drift = DriftCache(store.config.drift_engine, store.schema)
    return [walk(s, store, drift, progress) for s in strategies]


_WORKER: dict[str, Any] = {}


def _init_worker(
    frame: pd.DataFrame, schema: DatasetSchema, config: BacktestConfig, windows: list[Window], ticks: Any
) -> None:
    _WORKER["limit"] = limit_threads()
    _WORKER["store"] = ModelStore(frame, schema, config, windows)
    _WORKER["ticks"] = ticks


def _run_in_worker(strategies: list[AnyStrategy]) -> list[StrategyRun]:
    ticks = _WORKER["ticks"]
    return run_group(strategies, _WORKER["store"], ticks.put)


def backtest_windows(frame: pd.DataFrame, config: BacktestConfig) -> list[Window]:
    """The windows replayed: every window after the reference period.

    Raises:
        DataError: when no data follow the reference period.
    """
    windows = windows_after(frame, config.reference_end, config.window)
    if not windows:
        raise DataError(f"no data after the reference period (ending {config.reference_end}) to backtest on")
    return windows


def run_backtest(
    frame: pd.DataFrame,
    schema: DatasetSchema,
    strategies: list[AnyStrategy],
    config: BacktestConfig,
    progress: Progress | None = None,
) -> BacktestResult:
    """Replay ``strategies`` over the windows after the reference period.

    Args:
        frame: The whole history (sorted ``DatetimeIndex``).
        schema: Its column roles.
        strategies: Parsed strategies (:func:`~modelmedic.retraining.strategies.parse_strategies`).
        config: Windows, label delay, model, drift engine, workers.
        progress: Called with the number of strategy-windows just done.

    Returns:
        A :class:`BacktestResult` with one run per strategy, in the order given.

    Raises:
        DataError: when the data do not cover the reference period and later windows.
        ConfigError: for a bad window, label delay or model kind.
    """
    # lazy: modelmedic.model imports numpy
    from modelmedic.model import build_model

    if not strategies:
        raise ConfigError("give at least one strategy to backtest")
    build_model(config.kind, schema, config.seed, **config.estimator_params)  # fail early on bad params
    parse_duration(config.label_delay)
    windows = backtest_windows(frame, config)
    began = time.perf_counter()
    groups = group_strategies(strategies, len(windows))
    runs: list[StrategyRun] = []
    if config.workers <= 1 or len(groups) == 1:
        with limit_threads():
            store = ModelStore(frame, schema, config, windows)
            for group in groups:
                runs.extend(run_group(group, store, progress))
    else:
        context = multiprocessing.get_context("spawn")
        ticks = context.Queue()
        with ProcessPoolExecutor(
            min(config.workers, len(groups)),
            mp_context=context,
            initializer=_init_worker,
            initargs=(frame, schema, config, windows, ticks),
        ) as pool:
            futures = [pool.submit(_run_in_worker, g) for g in groups]
            while not all(f.done() for f in futures):
                try:
                    step = ticks.get(timeout=0.2)
                except Empty:
                    continue
                if progress:
                    progress(step)
            while progress and not ticks.empty():
                progress(ticks.get())
            for future in futures:
                runs.extend(future.result())
    order = {s.name: i for i, s in enumerate(strategies)}
    runs.sort(key=lambda r: order[r.name])
    start, stop = windows[0].begin, windows[-1].end
    evaluated = int(frame.loc[(frame.index >= start) & (frame.index < stop), schema.target].notna().sum())
    never = next((r for r in runs if r.name == "never"), None)
    if never is None:
        with limit_threads():
            store = ModelStore(frame, schema, config, windows)
            never = walk(parse_strategy("never"), store, DriftCache(config.drift_engine, schema))
    return BacktestResult(runs, windows, config, time.perf_counter() - began, evaluated, never.mae)
