"""Backtesting retraining strategies: which strategy would have served the history best?

The history after the reference period is replayed window by window, leak-free
(:mod:`~modelmedic.backtest.engine`), for each strategy of a registry
(:mod:`~modelmedic.backtest.strategies`: ``never``, ``periodic:4W``, ``drift:0.5``,
``performance:1.3``, each with an ``expanding``, ``sliding:8W`` or ``recency:4W``
training set, and ``incremental`` online learners). The strategies are ranked by error
plus retraining cost (:mod:`~modelmedic.backtest.ranking`) and the results are written
and logged (:mod:`~modelmedic.backtest.report`, which documents ``backtest.json``).

Example:
    >>> from modelmedic.backtest import BacktestConfig, backtest_and_report
    >>> outcome = backtest_and_report(frame, schema, ["never", "periodic:4W"], BacktestConfig(), settings)
    >>> outcome.ranking.recommendation
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelmedic.backtest.engine import BacktestConfig, BacktestResult, Progress, StrategyRun, run_backtest
from modelmedic.backtest.ranking import Ranking, rank
from modelmedic.backtest.strategies import DEFAULT_GRID, parse_strategies, parse_strategy

if TYPE_CHECKING:
    import pandas as pd

    from modelmedic.config import Settings
    from modelmedic.schema import DatasetSchema

__all__ = [
    "DEFAULT_GRID",
    "BacktestConfig",
    "BacktestOutcome",
    "BacktestResult",
    "Ranking",
    "StrategyRun",
    "backtest_and_report",
    "config_from_settings",
    "parse_strategies",
    "parse_strategy",
    "rank",
    "run_backtest",
]


@dataclass
class BacktestOutcome:
    """A finished backtest: the replay, its ranking, the files written and the MLflow run."""

    result: BacktestResult
    ranking: Ranking
    files: dict[str, Path]
    run_id: str | None
    document: dict[str, Any]


def config_from_settings(settings: Settings, **overrides: Any) -> BacktestConfig:
    """A :class:`BacktestConfig` with the settings' reference period, drift engine and seed."""
    values: dict[str, Any] = {
        "reference_start": settings.reference_start,
        "reference_end": settings.reference_end,
        "drift_engine": settings.drift_engine,
        "seed": settings.seed,
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    return BacktestConfig(**values)


def backtest_and_report(
    frame: pd.DataFrame,
    schema: DatasetSchema,
    specs: list[str] | tuple[str, ...] | None,
    config: BacktestConfig,
    settings: Settings,
    *,
    retrain_cost: float | None = None,
    log: bool = True,
    progress: Progress | None = None,
) -> BacktestOutcome:
    """Backtest ``specs`` (the default grid when empty), rank, write the reports, log to MLflow.

    Reports go to ``settings.backtest_reports_dir``.

    Raises:
        ConfigError: for a bad strategy spec, window, delay, model or retrain cost.
        DataError: when the data do not cover the reference period and later windows.
        TrackingError: when the MLflow store cannot be reached.
        MissingExtraError: without ``modelmedic[monitor]`` (the charts).
    """
    from modelmedic.backtest.report import backtest_document, log_backtest, write_reports
    from modelmedic.extras import require_installed

    require_installed("plotly", "matplotlib", purpose="modelmedic backtest's charts")
    strategies = parse_strategies(specs)
    result = run_backtest(frame, schema, strategies, config, progress)
    ranking = rank(result, retrain_cost)
    document = backtest_document(result, ranking)
    files = write_reports(result, ranking, settings.backtest_reports_dir, document)
    run_id = log_backtest(result, ranking, files, settings) if log else None
    return BacktestOutcome(result, ranking, files, run_id, document)
