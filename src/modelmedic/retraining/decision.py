"""Carry out a retraining strategy: is retraining due, and does the challenger beat the champion?

:func:`retrain` looks at the data known "now" (``until``) exactly as the backtest does at
a window boundary: the strategy's trigger decides whether retraining is due and says why.
If so, a challenger is trained on the strategy's training set *without* the latest
``eval_windows`` of labels, and both models are scored on those held-out rows (rows the
champion was trained on are left out too). The challenger wins if its MAE is lower by at
least ``min_improvement`` (a fraction); the model then promoted is the challenger refit on
every label of its training set, registered as a new version, and the registry alias
``champion`` moves to it. Otherwise the champion stays.

Every decision (not due, keep, promote) is an MLflow run in the ``<experiment>-retrain``
experiment, tagged ``modelmedic.role=retrain-decision`` with ``modelmedic.decision``,
``modelmedic.reason`` (the trigger) and ``modelmedic.why`` (the comparison). A dry run
computes the same decision and changes nothing.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from modelmedic import tracking
from modelmedic.config import Settings, get_settings
from modelmedic.errors import ConfigError
from modelmedic.retraining.drift_cache import DriftCache
from modelmedic.retraining.policies import parse_duration, window_length
from modelmedic.retraining.strategies import Strategy, parse_strategy, training_rows
from modelmedic.retraining.triggers import Deployment, boundary_view
from modelmedic.windows import day_end, select_period

if TYPE_CHECKING:
    import pandas as pd

    from modelmedic.retraining.strategies import Strategy
    from modelmedic.retraining.triggers import Deployment
    from modelmedic.schema import DatasetSchema

ROLE = "retrain-decision"


@dataclass
class RetrainDecision:
    """What :func:`retrain` decided and why.

    ``action`` is ``not-due`` (no trigger fired), ``keep`` (the champion stays) or
    ``promote`` (the challenger became champion); a dry run reports the action it would take.
    """

    strategy: str
    now: str
    label_cutoff: str
    champion_version: str
    triggered: bool
    reason: str
    action: str
    why: str
    dry_run: bool
    champion_mae: float | None = None
    challenger_mae: float | None = None
    improvement: float | None = None
    eval_start: str | None = None
    eval_end: str | None = None
    eval_rows: int = 0
    training_rows: int = 0
    promoted_version: str | None = None
    run_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def _now(frame: pd.DataFrame, until: str | None) -> pd.Timestamp:

    return day_end(until) if until else day_end(f"{frame.index.max():%Y-%m-%d}")


def champion_deployment(
    frame: pd.DataFrame, schema: DatasetSchema, settings: Settings, label_delay: pd.Timedelta
) -> tuple[Deployment, dict[str, str]]:
    """The registry's champion as a deployment: its model, training rows, label cutoff and start.

    The training period comes from the champion's run parameters (``reference_start`` /
    ``reference_end``, and ``label_cutoff`` / ``deployed_at`` when it was promoted here).

    Raises:
        ModelNotFoundError: when there is no champion.
        UntrustedModelError: when it is saved in a format whose loader can run code.
        DataError: when its training period is not in the data.
    """
    # lazy: pandas takes half a second to import; loaded where frames are handled
    import pandas as pd

    uri, version = tracking.champion(settings)
    client = tracking.client(settings)
    run_id = client.get_model_version(settings.model_name, version).run_id
    params = dict(client.get_run(run_id).data.params) if run_id else {}
    start = params.get("reference_start", settings.reference_start)
    end = params.get("reference_end", settings.reference_end)
    cutoff = pd.Timestamp(params["label_cutoff"]) if "label_cutoff" in params else day_end(end)
    deployed_at = pd.Timestamp(params["deployed_at"]) if "deployed_at" in params else cutoff + label_delay
    training = select_period(frame, start, end)
    model = tracking.load_trusted_model(uri, settings).model
    info = {"version": version, "uri": uri, "kind": params.get("model_kind", "hgb")}
    return Deployment(f"champion-v{version}", model, training, cutoff, deployed_at, schema=schema), info


def _fit(
    strategy: Strategy, labelled: pd.DataFrame, cutoff: pd.Timestamp, schema: DatasetSchema, kind: str, seed: int
) -> tuple[Any, pd.DataFrame]:
    # lazy: modelmedic.model imports numpy
    from modelmedic.model import build_model, fit

    rows, weights = training_rows(strategy, labelled, cutoff, schema)
    return fit(build_model(kind, schema, seed), rows, schema, sample_weight=weights), rows


def retrain(
    frame: pd.DataFrame,
    schema: DatasetSchema,
    strategy_spec: str,
    *,
    settings: Settings | None = None,
    until: str | None = None,
    window: str = "1W",
    label_delay: str = "0",
    min_improvement: float = 0.02,
    eval_windows: int = 1,
    kind: str | None = None,
    force: bool = False,
    dry_run: bool = False,
) -> RetrainDecision:
    """Apply ``strategy_spec`` to the data known at ``until``: decide, train, compare, promote.

    Returns:
        The :class:`RetrainDecision` (also logged to MLflow unless ``dry_run``).

    Raises:
        ConfigError: for a bad spec, an incremental strategy, or ``until`` before the champion.
        ModelNotFoundError: when there is no champion.
        DataError: when a training set holds no labelled rows.
    """
    # lazy: numpy only where arrays are computed
    import numpy as np

    # lazy: modelmedic.model imports numpy
    from modelmedic.model import feature_frame, predict

    settings = settings or get_settings()
    strategy = parse_strategy(strategy_spec)
    if not isinstance(strategy, Strategy):
        raise ConfigError(
            f"'{strategy_spec}' is an online learner: 'retrain' applies retraining strategies "
            "(e.g. periodic:4W+recency:4W)"
        )
    if not 0 <= min_improvement < 1:
        raise ConfigError(f"--min-improvement {min_improvement} must be a fraction in [0, 1)")
    delay, length = parse_duration(label_delay), window_length(window)
    now = _now(frame, until)
    known = frame.iloc[: frame.index.searchsorted(now)]
    deployed, champion = champion_deployment(known, schema, settings, delay)
    if now < deployed.deployed_at:
        raise ConfigError(
            f"--until {until} is before the champion (v{champion['version']}) was deployed "
            f"({deployed.deployed_at:%Y-%m-%d}): pick a later day"
        )
    since = known.index.searchsorted(deployed.deployed_at)
    predictions = np.full(len(known), np.nan)
    predictions[since:] = predict(deployed.model, known.iloc[since:], schema)
    view = boundary_view(known, schema.target, now, delay, length, predictions)
    trigger = strategy.trigger.decide(view, deployed, DriftCache(settings.drift_engine, schema))
    decision = RetrainDecision(
        strategy.name,
        now.isoformat(),
        view.label_cutoff.isoformat(),
        champion["version"],
        trigger.retrain,
        trigger.reason,
        "not-due",
        "no trigger fired",
        dry_run,
    )
    if not (trigger.retrain or force):
        return _record(decision, settings, window, label_delay, min_improvement, eval_windows)
    labelled = view.labelled()
    eval_start = max(view.label_cutoff - eval_windows * length, deployed.label_cutoff)
    held_out = labelled.iloc[labelled.index.searchsorted(eval_start) :]
    held_out = held_out.loc[held_out[schema.target].notna()]
    decision.eval_start, decision.eval_end = eval_start.isoformat(), view.label_cutoff.isoformat()
    decision.eval_rows = len(held_out)
    if held_out.empty:
        decision.action, decision.why = "keep", "no labelled rows newer than the champion's training data to compare on"
        return _record(decision, settings, window, label_delay, min_improvement, eval_windows)
    kind = kind or champion["kind"]
    challenger, _ = _fit(strategy, labelled, eval_start, schema, kind, settings.seed)
    _challenge(decision, deployed.model, challenger, held_out, schema, min_improvement)
    promoted = None
    if decision.action == "promote" and not dry_run:
        model, rows = _fit(strategy, labelled, view.label_cutoff, schema, kind, settings.seed)
        promoted = Promoted(model, rows, feature_frame(rows.head(5), schema), kind, strategy.policy.spec)
        decision.training_rows = len(rows)
    return _record(decision, settings, window, label_delay, min_improvement, eval_windows, promoted)


def _challenge(
    decision: RetrainDecision,
    champion: Any,
    challenger: Any,
    held_out: pd.DataFrame,
    schema: DatasetSchema,
    min_improvement: float,
) -> None:
    """Score both models on the ``held_out`` rows and set the decision's MAEs, action and why."""
    # lazy: modelmedic.model imports numpy
    from modelmedic.model import predict
    from modelmedic.performance import regression_metrics

    # the champion is scored afresh: held-out rows can predate its deployment (label delay)
    actual = held_out[schema.target]
    champion_mae = regression_metrics(actual, predict(champion, held_out, schema))["mae"]
    challenger_mae = regression_metrics(actual, predict(challenger, held_out, schema))["mae"]
    improvement = (champion_mae - challenger_mae) / champion_mae if champion_mae > 0 else 0.0
    decision.champion_mae, decision.challenger_mae, decision.improvement = champion_mae, challenger_mae, improvement
    if improvement >= min_improvement:
        decision.action = "promote"
        decision.why = (
            f"the challenger's MAE is {improvement:.1%} lower than the champion's "
            f"(at least {min_improvement:.1%} needed)"
        )
    else:
        decision.action = "keep"
        decision.why = (
            f"the challenger's MAE is only {improvement:+.1%} better than the champion's ({min_improvement:.1%} needed)"
        )


@dataclass
class Promoted:
    """The model to register as the new champion and what it was trained on."""

    model: Any
    rows: pd.DataFrame
    example: pd.DataFrame
    kind: str
    policy: str


def _record(
    decision: RetrainDecision,
    settings: Settings,
    window: str,
    label_delay: str,
    min_improvement: float,
    eval_windows: int,
    promoted: Promoted | None = None,
) -> RetrainDecision:
    """Log the decision as an MLflow run; register ``promoted`` as champion when given.

    A dry run logs nothing.
    """
    if decision.dry_run:
        return decision
    # lazy: pandas costs ~0.4 s to import
    import pandas as pd

    experiment = tracking.experiment_id(f"{settings.experiment}-retrain", settings)
    client = tracking.client(settings)
    params: dict[str, Any] = {
        "strategy": decision.strategy,
        "now": decision.now,
        "window": window,
        "label_delay": label_delay,
        "min_improvement": min_improvement,
        "eval_windows": eval_windows,
        "champion_version": decision.champion_version,
        "eval_start": decision.eval_start or "",
        "eval_end": decision.eval_end or "",
    }
    metrics = {
        k: v
        for k, v in (
            ("champion_mae", decision.champion_mae),
            ("challenger_mae", decision.challenger_mae),
            ("improvement", decision.improvement),
            ("eval_rows", decision.eval_rows),
        )
        if v is not None and math.isfinite(v)
    }
    tags = {
        "modelmedic.role": ROLE,
        "modelmedic.decision": decision.action,
        "modelmedic.reason": decision.reason,
        "modelmedic.why": decision.why,
        "modelmedic.strategy": decision.strategy,
        "modelmedic.triggered": str(decision.triggered).lower(),
    }
    if promoted is not None:
        cutoff = pd.Timestamp(decision.label_cutoff)
        params.update(
            {
                "model_kind": promoted.kind,
                "policy": promoted.policy,
                "reference_start": f"{promoted.rows.index.min():%Y-%m-%d}",
                "reference_end": f"{cutoff - pd.Timedelta(microseconds=1):%Y-%m-%d}",
                "label_cutoff": decision.label_cutoff,
                "deployed_at": decision.now,
                "rows_train": len(promoted.rows),
            }
        )
    with tracking.start_run(experiment, f"retrain-{decision.action}", settings) as run_id:
        decision.run_id = run_id
        if promoted is not None:
            info = tracking.log_model(promoted.model, promoted.example, settings=settings)
            version = tracking.register(
                info.model_uri,
                settings.model_name,
                alias=tracking.CHAMPION,
                settings=settings,
                tags={
                    "strategy": decision.strategy,
                    "kind": promoted.kind,
                    "reference": f"{params['reference_start']}..{params['reference_end']}",
                },
            )
            decision.promoted_version = version
            tags["modelmedic.promoted_version"] = version
        tracking.log_values(client, run_id, metrics, params, tags)
    return decision
