"""Rank strategies by error plus retraining cost, find the Pareto front, recommend one.

The objective puts error and retrains on one scale, in MAE units::

    objective = MAE + retrain_cost * retrains / windows

``retrain_cost`` is what one retrain costs, expressed as extra MAE during one window
(the work to train, validate and deploy a model, and its risk). Multiplying the
objective by the number of windows gives the total "cost" of the replay: the sum of the
windows' errors plus ``retrain_cost`` per retrain. So retraining every window pays off
only if it lowers the MAE by more than ``retrain_cost``; retraining every 4 windows,
by more than a quarter of it.

The default cost is 5 % of the reference model's MAE (the ``never`` strategy's): a
weekly retrain must cut the error by more than 5 % to be worth it. The Pareto front
(error vs retrains) shows the trade-off at every cost at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from modelmedic.backtest.engine import BacktestResult, StrategyRun
from modelmedic.errors import ConfigError

DEFAULT_COST_SHARE = 0.05


@dataclass
class RankedStrategy:
    """A strategy's place in the ranking."""

    run: StrategyRun
    objective: float
    gap_to_best: float
    rank: int = 0
    pareto: bool = False

    @property
    def name(self) -> str:
        """The strategy's spec."""
        return self.run.name


@dataclass
class Ranking:
    """Strategies ranked by objective, the Pareto front and the recommendation."""

    rows: list[RankedStrategy]
    retrain_cost: float
    cost_source: str
    windows: int
    reference_mae: float
    recommendation: str
    why: str

    @property
    def best(self) -> RankedStrategy:
        """The recommended strategy (lowest objective)."""
        return self.rows[0]

    @property
    def pareto(self) -> list[RankedStrategy]:
        """The Pareto front (no other strategy has both lower error and fewer retrains), by retrains."""
        return sorted((r for r in self.rows if r.pareto), key=lambda r: (r.run.retrains, r.run.mae))


def pareto_front(runs: list[StrategyRun]) -> set[str]:
    """Names of the runs that no other run beats on both MAE and retrains."""

    def dominated(a: StrategyRun) -> bool:
        return any(
            b.mae <= a.mae and b.retrains <= a.retrains and (b.mae < a.mae or b.retrains < a.retrains)
            for b in runs
            if b is not a
        )

    return {r.name for r in runs if not math.isnan(r.mae) and not dominated(r)}


def rank(result: BacktestResult, retrain_cost: float | None = None) -> Ranking:
    """Rank ``result``'s strategies by objective (ties: fewer retrains, lower MAE, then ``never``).

    Args:
        result: The backtest.
        retrain_cost: Cost of one retrain in MAE units (default: 5 % of the reference MAE).

    Raises:
        ConfigError: for a negative retrain cost or a backtest without scored rows.
    """
    if retrain_cost is not None and retrain_cost < 0:
        raise ConfigError(f"retrain cost {retrain_cost} must not be negative")
    runs = [r for r in result.runs if not math.isnan(r.mae)]
    if not runs:
        raise ConfigError("no strategy had labelled rows to score: check the data and the windows")
    if retrain_cost is None:
        retrain_cost = DEFAULT_COST_SHARE * result.reference_mae
        source = f"auto: {DEFAULT_COST_SHARE:.0%} of the reference model's MAE {result.reference_mae:.1f}"
    else:
        source = "given"
    windows = len(result.windows)
    best_mae = min(r.mae for r in runs)
    front = pareto_front(runs)
    rows = [
        RankedStrategy(r, r.mae + retrain_cost * r.retrains / windows, r.mae - best_mae, pareto=r.name in front)
        for r in runs
    ]
    rows.sort(key=lambda r: (r.objective, r.run.retrains, r.run.mae, r.name != "never", r.name))
    for i, row in enumerate(rows, 1):
        row.rank = i
    ranking = Ranking(rows, retrain_cost, source, windows, result.reference_mae, rows[0].name, "")
    ranking.why = explain(ranking)
    return ranking


def explain(ranking: Ranking) -> str:
    """A one-paragraph recommendation: why the winner wins and what the trade-off is."""
    best, cost, n = ranking.best, ranking.retrain_cost, ranking.windows
    run = best.run
    parts = [
        f"Retrain with '{best.name}': it has the lowest objective, {best.objective:.2f} = MAE {run.mae:.2f} "
        f"+ {cost:.2f} x {run.retrains} retrains / {n} windows."
    ]
    if ranking.reference_mae > 0 and not math.isnan(ranking.reference_mae):
        change = 1 - run.mae / ranking.reference_mae
        if change > 0:
            parts.append(f"It cuts the error of never retraining (MAE {ranking.reference_mae:.2f}) by {change:.0%}.")
        else:
            parts.append(
                f"No strategy improves on the reference model (MAE {ranking.reference_mae:.2f}) "
                f"enough to pay for its retrains."
            )
    accurate = min(ranking.rows, key=lambda r: (r.run.mae, r.run.retrains))
    if accurate is best:
        parts.append("It is also the most accurate strategy.")
    else:
        extra, lower = accurate.run.retrains - run.retrains, run.mae - accurate.run.mae
        parts.append(
            f"The most accurate, '{accurate.name}' (MAE {accurate.run.mae:.2f}, {lower:.2f} lower), "
            f"needs {extra} more retrains, which do not pay at {cost:.2f} MAE each."
        )
    cheaper = [r for r in ranking.pareto if r.run.retrains < run.retrains]
    if cheaper:
        alt = cheaper[-1]
        parts.append(
            f"With fewer retrains, the Pareto front's next option is '{alt.name}' "
            f"(MAE {alt.run.mae:.2f}, {alt.run.retrains} retrains)."
        )
    parts.append(f"Retrain cost {cost:.2f} ({ranking.cost_source}); a higher --retrain-cost favours fewer retrains.")
    return " ".join(parts)
