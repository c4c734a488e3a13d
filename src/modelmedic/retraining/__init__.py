"""Retraining: when to retrain a model and on which rows, shared by the backtest and production.

- :mod:`~modelmedic.retraining.triggers`: what a strategy sees at a window boundary
  (:class:`~modelmedic.retraining.triggers.BoundaryView`) and the triggers deciding from it
  (``never``, ``periodic``, ``drift``, ``performance``);
  :mod:`~modelmedic.retraining.error_triggers` adds ``cusum`` and ``estimated``;
- :mod:`~modelmedic.retraining.policies`: the training-set policies (``expanding``,
  ``sliding``, ``recency``);
- :mod:`~modelmedic.retraining.strategies`: a trigger with a policy, parsed from a spec;
- :mod:`~modelmedic.retraining.incremental`: online learners (``incremental:mlp``);
- :mod:`~modelmedic.retraining.drift_cache`: drift against a deployment's training rows;
- :mod:`~modelmedic.retraining.decision`: production retraining, :func:`retrain`.

The backtest (:mod:`modelmedic.backtest`) replays these strategies over the history.

Example:
    >>> from modelmedic.retraining import retrain
    >>> decision = retrain(frame, schema, "drift:0.5+sliding:8W", dry_run=True)
"""

from modelmedic.retraining import error_triggers  # noqa: F401  (registers the cusum and estimated triggers)
from modelmedic.retraining.decision import RetrainDecision, retrain
from modelmedic.retraining.strategies import DEFAULT_GRID, parse_strategies, parse_strategy

__all__ = ["DEFAULT_GRID", "RetrainDecision", "parse_strategies", "parse_strategy", "retrain"]
