"""Retraining strategies: a trigger (when to retrain) combined with a training-set policy.

A strategy is written as ``TRIGGER[+POLICY]``:

* triggers: ``never``; ``periodic:4W`` (retrain when the model is 4 weeks old; a bare
  number counts windows); ``drift:0.5`` (the latest window's dataset drift share against
  the deployed model's training data is at least 0.5), ``drift:0.5/temp,hum`` (the same
  share among these features only), ``drift:temp,hum`` (any of these features drifted) or
  ``drift:top2`` (at least the 2 most drifted features drifted); ``performance:1.3`` (the
  MAE over the last window of labelled rows exceeds 1.3 x the deployed model's reference
  MAE, its MAE over its first window of labelled production rows) or ``performance:1.3,2``
  (so did each of the last 2 windows: a patience of 2 windows);
* training-set policies: ``expanding`` (all labelled history, the default), ``sliding:8W``
  (the last 8 weeks of labels), ``recency:4W`` (all labels weighted ``0.5 ** (age / 4W)``;
  rows older than 7 half-lives, weight under 1 %, are left out);
* ``incremental`` / ``incremental:mlp`` / ``incremental:sgd``: an online learner updated
  with every window's new labels (see :mod:`modelmedic.retraining.incremental`).

A strategy sees the world only through a
:class:`~modelmedic.retraining.triggers.BoundaryView`, so no strategy can look ahead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from modelmedic.errors import ConfigError, DataError
from modelmedic.retraining.policies import POLICIES, Expanding, TrainingPolicy
from modelmedic.retraining.triggers import TRIGGERS, BoundaryView, Never, Trigger

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from modelmedic.schema import DatasetSchema

DEFAULT_GRID = (
    "never",
    "periodic:1W",
    "periodic:2W",
    "periodic:4W",
    "periodic:13W",
    "periodic:1W+sliding:8W",
    "periodic:4W+sliding:8W",
    "periodic:4W+sliding:4W",
    "periodic:4W+sliding:13W",
    "periodic:1W+recency:4W",
    "periodic:4W+recency:4W",
    "drift:0.5",
    "drift:0.7",
    "drift:0.5+sliding:8W",
    "drift:0.5+recency:4W",
    "drift:hum,weathersit",
    "performance:1.2",
    "performance:1.5",
    "performance:1.2+sliding:8W",
    "performance:1.2+recency:4W",
    "incremental:mlp",
    "incremental:sgd",
)


@dataclass(frozen=True)
class Strategy:
    """A trigger combined with a training-set policy."""

    trigger: Trigger
    policy: TrainingPolicy

    @property
    def name(self) -> str:
        """The canonical spec (``+expanding`` is implied, ``never`` needs no policy)."""
        if isinstance(self.trigger, Never) or isinstance(self.policy, Expanding):
            return self.trigger.spec
        return f"{self.trigger.spec}+{self.policy.spec}"

    @property
    def family(self) -> str:
        """The models this strategy can share: strategies of one family train the same sets."""
        return "reference" if isinstance(self.trigger, Never) else self.policy.spec


@dataclass(frozen=True)
class IncrementalStrategy:
    """An online learner updated with every window's newly labelled rows."""

    learner: str = "mlp"

    @property
    def name(self) -> str:
        """``incremental:<learner>``."""
        return f"incremental:{self.learner}"

    @property
    def family(self) -> str:
        """Online learners share nothing."""
        return self.name


AnyStrategy = Strategy | IncrementalStrategy


def _split(part: str) -> tuple[str, str | None]:
    name, _, arg = part.strip().partition(":")
    return name.strip().lower(), (arg.strip() or None)


def parse_strategy(spec: str) -> AnyStrategy:
    """Parse a spec such as ``never``, ``periodic:4W+sliding:8W`` or ``incremental:sgd``.

    Raises:
        ConfigError: for an unknown trigger, policy or learner, or a bad argument.
    """
    # lazy: modelmedic.retraining.incremental imports numpy
    from modelmedic.retraining.incremental import LEARNERS

    trigger_part, _, policy_part = spec.strip().partition("+")
    name, arg = _split(trigger_part)
    if name == "incremental":
        if policy_part:
            raise ConfigError(f"'{spec}': an incremental learner takes no training-set policy")
        learner = arg or "mlp"
        if learner not in LEARNERS:
            raise ConfigError(f"'{spec}': unknown learner '{learner}'; choose one of: {', '.join(LEARNERS)}")
        return IncrementalStrategy(learner)
    if name not in TRIGGERS:
        known = ", ".join([*TRIGGERS, "incremental"])
        raise ConfigError(f"unknown strategy '{spec}': start with one of {known} (e.g. periodic:4W+sliding:8W)")
    policy_name, policy_arg = _split(policy_part) if policy_part else ("expanding", None)
    if policy_name not in POLICIES:
        raise ConfigError(f"'{spec}': unknown training set '{policy_name}'; choose one of: {', '.join(POLICIES)}")
    policy_cls: Any = POLICIES[policy_name]
    policy = policy_cls() if policy_cls is Expanding else policy_cls(policy_arg)
    return Strategy(TRIGGERS[name](arg), policy)


def parse_strategies(specs: list[str] | tuple[str, ...] | None) -> list[AnyStrategy]:
    """Parse several specs (the default grid when empty), rejecting duplicates.

    Raises:
        ConfigError: for a bad or repeated spec.
    """
    strategies = [parse_strategy(s) for s in (specs or DEFAULT_GRID)]
    names = [s.name for s in strategies]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"strategies given twice: {', '.join(repeated)}")
    return strategies


def training_rows(
    strategy: Strategy, labelled: pd.DataFrame, cutoff: pd.Timestamp, schema: DatasetSchema
) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The rows and weights ``strategy``'s policy picks from the ``labelled`` rows before ``cutoff``.

    Raises:
        DataError: when no labelled rows fall in the training set.
    """
    rows, weights = strategy.policy.select(labelled.iloc[: labelled.index.searchsorted(cutoff)], cutoff)
    if rows.empty or rows[schema.target].notna().sum() == 0:
        raise DataError(f"{strategy.name}: no labelled rows in the training set before {cutoff}")
    return rows, weights


def training_set(
    strategy: Strategy, view: BoundaryView, schema: DatasetSchema
) -> tuple[pd.DataFrame, np.ndarray | None, str]:
    """The rows, weights and cache key of the training set ``strategy`` uses at ``view.now``.

    Raises:
        DataError: when no labelled rows fall in the training set.
    """
    rows, weights = training_rows(strategy, view.labelled(), view.label_cutoff, schema)
    return rows, weights, f"{strategy.policy.spec}@{view.label_cutoff.isoformat()}"
