"""Backtesting retraining strategies: which strategy would have served the history best?

The history after the reference period is replayed window by window, leak-free
(:mod:`~modelmedic.backtest.engine`), for each strategy of a registry
(:mod:`~modelmedic.retraining.strategies`: ``never``, ``periodic:4W``, ``drift:0.5``,
``performance:1.3``, each with an ``expanding``, ``sliding:8W`` or ``recency:4W``
training set, and ``incremental`` online learners). The strategies are ranked by error
plus retraining cost (:mod:`~modelmedic.backtest.ranking`) and the results are written
and logged (:mod:`~modelmedic.backtest.report`, which documents ``backtest.json``).

:func:`search_and_report` searches the strategy space instead: a model bank
(:mod:`~modelmedic.backtest.bank`) trains every deployable model once, strategies are
replayed from its predictions (:mod:`~modelmedic.backtest.schedules`), the whole space is
searched (:mod:`~modelmedic.backtest.search`) and compared with the best schedule knowing
the future (:mod:`~modelmedic.backtest.hindsight`).

Example:
    >>> from modelmedic.backtest import BacktestConfig, backtest_and_report
    >>> outcome = backtest_and_report(frame, schema, ["never", "periodic:4W"], BacktestConfig(), settings)
    >>> outcome.ranking.recommendation
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelmedic.backtest.bank import ModelBank
from modelmedic.backtest.config import BacktestConfig
from modelmedic.backtest.engine import BacktestResult, Progress, StrategyRun, backtest_windows, run_backtest
from modelmedic.backtest.ranking import Ranking, rank
from modelmedic.backtest.report import backtest_document, log_backtest, write_reports
from modelmedic.backtest.schedules import to_run
from modelmedic.backtest.search import search, search_space
from modelmedic.extras import require_installed
from modelmedic.retraining.strategies import DEFAULT_GRID, parse_strategies, parse_strategy

if TYPE_CHECKING:
    import pandas as pd

    from modelmedic.backtest.search import SearchResult
    from modelmedic.config import Settings
    from modelmedic.schema import DatasetSchema

Tasks = Callable[[str, int], Progress]

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
    "replay_steps",
    "run_backtest",
    "search_and_report",
]


@dataclass
class BacktestOutcome:
    """A finished backtest: the replay, its ranking, the files written and the MLflow run."""

    result: BacktestResult
    ranking: Ranking
    files: dict[str, Path]
    run_id: str | None
    document: dict[str, Any]
    search: SearchResult | None = None


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


def replay_steps(frame: pd.DataFrame, specs: list[str] | tuple[str, ...] | None, config: BacktestConfig) -> int:
    """How many strategy-windows a backtest of ``specs`` (the default grid when empty) replays:
    the size of :func:`backtest_and_report`'s progress.

    Raises:
        ConfigError: for a bad or repeated strategy spec.
        DataError: when no data follow the reference period.
    """
    return len(parse_strategies(specs)) * len(backtest_windows(frame, config))


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
    require_installed("plotly", "matplotlib", purpose="modelmedic backtest's charts")
    strategies = parse_strategies(specs)
    result = run_backtest(frame, schema, strategies, config, progress)
    ranking = rank(result, retrain_cost)
    document = backtest_document(result, ranking)
    files = write_reports(result, ranking, settings.backtest_reports_dir, document)
    run_id = log_backtest(result, ranking, files, settings) if log else None
    return BacktestOutcome(result, ranking, files, run_id, document)


SHOWN = 10  # strategies of the search shown besides the front (best objective first)


def search_and_report(
    frame: pd.DataFrame,
    schema: DatasetSchema,
    config: BacktestConfig,
    settings: Settings,
    *,
    retrain_cost: float | None = None,
    max_retrains: int | None = None,
    families: list[str] | None = None,
    log: bool = True,
    tasks: Tasks | None = None,
) -> BacktestOutcome:
    """Build the model bank, search the strategy space, write the reports, log to MLflow.

    The report holds the Pareto front, the best strategies by objective and ``never`` (each
    with its per-window errors, as a backtest of a list), plus a ``search`` section: the
    front with each strategy's regret, the hindsight limit per budget and the
    recommendation. The bank is cached in ``settings.resolved_cache_dir() / "bank"``.

    Raises:
        ConfigError: for a bad window, delay, model, retrain cost, budget or family.
        DataError: when the data do not cover the reference period and later windows.
        TrackingError: when the MLflow store cannot be reached.
    """
    # lazy: modelmedic.model imports numpy
    from modelmedic.model import build_model

    build_model(config.kind, schema, config.seed, **config.estimator_params)  # fail early on bad params
    began = time.perf_counter()
    bank = ModelBank(frame, schema, config, cache_dir=settings.resolved_cache_dir() / "bank")
    specs = search_space(bank, families)
    bank.build(tasks("model bank: models", len(bank.jobs())) if tasks else None)
    built = time.perf_counter() - began
    found = search(
        bank,
        specs=specs,
        retrain_cost=retrain_cost,
        max_retrains=max_retrains,
        progress=tasks("strategies searched", len(specs)) if tasks else None,
    )
    found.seconds = {"bank": built, **found.seconds}
    by_objective = sorted(found.scored, key=found.objective)
    shown = {s.name: s for s in [*found.front, *by_objective[:SHOWN], found.recommendation]}
    runs = [to_run(bank, s) for s in shown.values()]
    never = next(s for s in found.scored if s.name == "never")
    found.seconds["total"] = time.perf_counter() - began
    result = BacktestResult(runs, bank.windows, config, found.seconds["total"], never.rows, never.mae)
    ranking = rank(result, found.retrain_cost)
    best = next(r for r in ranking.rows if r.name == found.recommendation.name)
    ranking.rows = [best, *(r for r in ranking.rows if r is not best)]
    for i, row in enumerate(ranking.rows, 1):
        row.rank = i
    ranking.recommendation, ranking.why, ranking.cost_source = best.name, found.why(), found.cost_source
    document = backtest_document(result, ranking)
    document["search"] = found.to_dict()
    files = write_reports(result, ranking, settings.backtest_reports_dir, document)
    run_id = log_backtest(result, ranking, files, settings) if log else None
    return BacktestOutcome(result, ranking, files, run_id, document, found)
