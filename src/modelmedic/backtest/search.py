"""Search the space of retraining strategies on the model bank, not a short list.

Every family with its parameters, each with every training window in the bank:

* ``periodic`` — period 1 to 52 windows;
* ``performance`` — ratio of the recent MAE to the model's first window, 1.1 to 3, with a
  patience of 1 to 3 windows over the ratio (``performance:1.5,2``);
* ``drift`` — drift share 0.3 to 0.9 among all features or among a group of them (the
  weather, the calendar: :data:`FEATURE_GROUPS`, ``drift:0.5/temp,hum``), or at least 1 to
  3 drifted features (``drift:top2``);
* ``cusum`` — CUSUM on the hour-standardised error stream, threshold 1 to 8 x its calibration;
* ``estimated`` — the label-free DLE estimate of the MAE, ratio 1.1 to 2.

Once the bank holds the models, one strategy costs milliseconds (decisions and errors are
read from stored predictions), so the space (about 460 strategies) is searched
exhaustively; no sampling or successive halving is needed at this size. The output is the
Pareto front of MAE against retrains, the hindsight limit for each budget
(:mod:`modelmedic.backtest.hindsight`), each strategy's regret against it, and the
recommendation: the lowest objective ``MAE + retrain_cost x retrains / windows``
(:mod:`modelmedic.backtest.ranking`), or the lowest MAE within ``max_retrains``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from modelmedic.backtest.hindsight import hindsight_limit
from modelmedic.backtest.ranking import DEFAULT_COST_SHARE
from modelmedic.backtest.schedules import Simulator
from modelmedic.errors import ConfigError
from modelmedic.retraining.drift_cache import DriftCache
from modelmedic.retraining.strategies import Strategy, parse_strategy

if TYPE_CHECKING:
    from collections.abc import Callable

    from modelmedic.backtest.bank import ModelBank
    from modelmedic.backtest.hindsight import Limit
    from modelmedic.backtest.schedules import Scored
    from modelmedic.schema import DatasetSchema

PERIODS = (1, 2, 3, 4, 5, 6, 7, 8, 10, 13, 14, 17, 20, 26, 34, 52)
FAMILIES: dict[str, tuple[Any, ...]] = {
    "periodic": PERIODS,
    "performance": (1.1, 1.2, 1.3, 1.5, 2, 3),
    "drift": (0.3, 0.5, 0.7, 0.9),
    "cusum": (1, 2, 4, 8),
    "estimated": (1.1, 1.25, 1.5, 2),
}
PATIENCE = (1, 2, 3)  # windows in a row over the ratio before a performance trigger fires
TOP_DRIFTED = (1, 2, 3)  # drift:topK: at least K drifted features
# feature groups whose drift share is searched besides all features (those in the schema)
FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "weather": ("temp", "atemp", "hum", "windspeed", "weathersit"),
    "calendar": ("season", "mnth", "holiday", "weekday", "workingday", "hr"),
}
BUDGETS = (7, 12, 25, 50, 100)


def feature_subsets(schema: DatasetSchema, groups: dict[str, tuple[str, ...]] | None = None) -> list[tuple[str, ...]]:
    """The features of each group (default :data:`FEATURE_GROUPS`) in the schema, in its order.

    A group is kept when it holds at least one feature and not all of them (that is ``drift:0.5``).
    """
    subsets = []
    for members in (FEATURE_GROUPS if groups is None else groups).values():
        chosen = tuple(f for f in schema.features if f in members)
        if chosen and len(chosen) < len(schema.features) and chosen not in subsets:
            subsets.append(chosen)
    return subsets


def trigger_args(family: str, bank: ModelBank, groups: dict[str, tuple[str, ...]] | None = None) -> list[str]:
    """The arguments searched for ``family``'s trigger on ``bank`` (``4W``, ``1.5,2``, ``0.5/temp,hum``)."""
    values = FAMILIES[family]
    if family == "periodic":
        return [f"{v}{'W' if bank.config.window.upper() in {'1W', 'W'} else ''}" for v in values]
    if family == "performance":
        return [f"{v:g}" if p == 1 else f"{v:g},{p}" for p in PATIENCE for v in values]
    if family == "drift":
        among = [f"{v:g}/{','.join(s)}" for s in feature_subsets(bank.schema, groups) for v in values]
        return [f"{v:g}" for v in values] + among + [f"top{k}" for k in TOP_DRIFTED]
    return [f"{v:g}" for v in values]


def search_space(
    bank: ModelBank,
    families: tuple[str, ...] | list[str] | None = None,
    groups: dict[str, tuple[str, ...]] | None = None,
) -> list[str]:
    """Every strategy spec searched on ``bank``: ``never`` and family x parameters x training window.

    Args:
        bank: The model bank (its training windows, window length and schema).
        families: The families searched (default: all of :data:`FAMILIES`).
        groups: The feature groups of the drift family (default :data:`FEATURE_GROUPS`).

    Raises:
        ConfigError: for an unknown family.
    """
    chosen = list(families or FAMILIES)
    unknown = [f for f in chosen if f not in FAMILIES]
    if unknown:
        raise ConfigError(f"unknown strategy families {', '.join(unknown)}; choose from {', '.join(FAMILIES)}")
    specs = ["never"]
    for family in chosen:  # one training window after the other: its models' caches are reused
        args = trigger_args(family, bank, groups)
        for policy in bank.policies:
            for arg in args:
                specs.append(f"{family}:{arg}" if policy == "expanding" else f"{family}:{arg}+{policy}")
    return specs


@dataclass
class SearchResult:
    """The searched strategies, the Pareto front, the hindsight limit and the recommendation."""

    scored: list[Scored]
    limit: Limit
    retrain_cost: float
    cost_source: str
    max_retrains: int | None
    windows: int
    reference_mae: float
    seconds: dict[str, float] = field(default_factory=dict)
    trained: int = 0
    models: int = 0

    def objective(self, s: Scored) -> float:
        """``MAE + retrain_cost x retrains / windows``."""
        return s.mae + self.retrain_cost * s.retrains / self.windows

    def regret(self, s: Scored) -> float:
        """How much worse ``s`` is than the best schedule with as many retrains, knowing the future."""
        return s.mae - self.limit.at(s.retrains)

    @property
    def front(self) -> list[Scored]:
        """The Pareto front (no strategy has both lower MAE and fewer retrains), by retrains."""
        front: list[Scored] = []
        for s in sorted(self.scored, key=lambda s: (s.retrains, s.mae, s.name != "never", s.name)):
            if not math.isnan(s.mae) and (not front or s.mae < front[-1].mae):
                front.append(s)
        return front

    def best_within(self, budget: int) -> Scored | None:
        """The lowest-MAE strategy with at most ``budget`` retrains."""
        within = [s for s in self.scored if s.retrains <= budget and not math.isnan(s.mae)]
        return min(within, key=lambda s: (s.mae, s.retrains, s.name != "never", s.name)) if within else None

    @property
    def recommendation(self) -> Scored:
        """The lowest objective, or with ``max_retrains`` the lowest MAE within that budget."""
        if self.max_retrains is not None:
            best = self.best_within(self.max_retrains)
            assert best is not None  # never (0 retrains) is always searched
            return best
        return min(self.scored, key=lambda s: (self.objective(s), s.retrains, s.mae, s.name != "never", s.name))

    def why(self) -> str:
        """One paragraph: the recommendation, its regret, the limit and the next cheaper option."""
        best = self.recommendation
        limit = self.limit.at(best.retrains)
        if self.max_retrains is not None:
            parts = [
                f"Retrain with '{best.name}': the lowest MAE ({best.mae:.2f}) within {self.max_retrains} retrains."
            ]
        else:
            parts = [
                f"Retrain with '{best.name}': the lowest objective of {len(self.scored)} searched strategies, "
                f"{self.objective(best):.2f} = MAE {best.mae:.2f} + {self.retrain_cost:.2f} x {best.retrains} "
                f"retrains / {self.windows} windows (retrain cost {self.cost_source})."
            ]
        parts.append(
            f"The best any schedule with {best.retrains} retrains could have done, knowing the future: "
            f"MAE {limit:.2f} (regret {best.mae - limit:.2f}, {best.mae / limit - 1:.0%})."
        )
        if self.reference_mae > 0:
            parts.append(f"Never retraining: MAE {self.reference_mae:.2f}.")
        return " ".join(parts)

    def budget_table(self, budgets: tuple[int, ...] = BUDGETS) -> list[dict[str, Any]]:
        """For each budget: the best searched strategy, its MAE and the hindsight limit."""
        rows = []
        for budget in budgets:
            best = self.best_within(budget)
            if best is not None:
                rows.append(
                    {"budget": budget, "strategy": best.name, "mae": best.mae, "retrains": best.retrains,
                     "limit": self.limit.at(budget), "regret": best.mae - self.limit.at(budget)}
                )  # fmt: skip
        return rows

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: the front with regrets, the limit per budget, the recommendation."""
        best = self.recommendation

        def item(s: Scored) -> dict[str, Any]:
            return {"name": s.name, "mae": _num(s.mae), "retrains": s.retrains, "regret": _num(self.regret(s)),
                    "objective": _num(self.objective(s))}  # fmt: skip

        return {
            "candidates": len(self.scored),
            "models": self.models,
            "trained": self.trained,
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
            "retrain_cost": _num(self.retrain_cost),
            "cost_source": self.cost_source,
            "max_retrains": self.max_retrains,
            "front": [item(s) for s in self.front],
            "limit": [{"retrains": k, "mae": _num(m)} for k, m in enumerate(self.limit.mae)],
            "budgets": [
                {**r, "mae": _num(r["mae"]), "limit": _num(r["limit"]), "regret": _num(r["regret"])}
                for r in self.budget_table()
            ],
            "recommendation": {**item(best), "why": self.why()},
        }


def _num(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else round(float(value), 4)


def search(
    bank: ModelBank,
    *,
    families: tuple[str, ...] | list[str] | None = None,
    specs: list[str] | None = None,
    groups: dict[str, tuple[str, ...]] | None = None,
    retrain_cost: float | None = None,
    max_retrains: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> SearchResult:
    """Replay every strategy of the space (or ``specs``) on a built ``bank`` and compute the limit.

    Raises:
        ConfigError: for a negative retrain cost or budget, or a spec the bank cannot replay.
    """
    if retrain_cost is not None and retrain_cost < 0:
        raise ConfigError(f"retrain cost {retrain_cost} must not be negative")
    if max_retrains is not None and max_retrains < 0:
        raise ConfigError(f"--max-retrains {max_retrains} must not be negative")
    began = time.perf_counter()
    simulator = Simulator(bank, DriftCache(bank.config.drift_engine, bank.schema))
    scored = []
    for spec in specs or search_space(bank, families, groups):
        strategy = parse_strategy(spec)
        if not isinstance(strategy, Strategy):
            raise ConfigError(f"'{spec}': online learners are not in the model bank")
        scored.append(simulator.simulate(strategy))
        if progress:
            progress(1)
    searched = time.perf_counter() - began
    began = time.perf_counter()
    limit = hindsight_limit(bank)
    never = simulator.simulate(parse_strategy("never"))
    if retrain_cost is None:
        retrain_cost = DEFAULT_COST_SHARE * never.mae
        source = f"auto: {DEFAULT_COST_SHARE:.0%} of the reference model's MAE {never.mae:.1f}"
    else:
        source = "given"
    result = SearchResult(
        scored, limit, retrain_cost, source, max_retrains, len(bank.windows), never.mae,
        {"search": searched, "limit": time.perf_counter() - began},
    )  # fmt: skip
    result.trained, result.models = bank.trained, len(bank.predictions)
    return result
