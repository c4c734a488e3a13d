"""What a retraining strategy sees at a window boundary, and the triggers deciding from it.

A trigger sees the world only through a :class:`BoundaryView`: copies of the rows before
the boundary, with the targets that are not yet known blanked out. Nothing after the
boundary is reachable from it, so no trigger can look ahead. Triggers register by name
(:func:`register_trigger`); :mod:`~modelmedic.retraining.error_triggers` adds two more.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from modelmedic.errors import ConfigError
from modelmedic.retraining.policies import TrainingPolicy, parse_duration

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from modelmedic.drift import DriftResult
    from modelmedic.schema import DatasetSchema


@dataclass(frozen=True)
class BoundaryView:
    """What a strategy may know at a window boundary ``now``.

    Attributes:
        now: The boundary: the deployed model is about to predict the rows from here on.
        label_cutoff: Targets are known for rows before this time (``now - label delay``).
        window: The length of one window (the "latest window" is ``[now - window, now)``).
        history: A copy of every row before ``now``; targets at or after
            ``label_cutoff`` are missing (not yet known).
        predictions: What the deployed models predicted for the rows of ``history``
            (missing where no production model predicted, e.g. the reference period).
    """

    now: pd.Timestamp
    label_cutoff: pd.Timestamp
    window: pd.Timedelta
    history: pd.DataFrame = field(repr=False)
    predictions: pd.Series = field(repr=False)
    target: str = ""

    def labelled(self) -> pd.DataFrame:
        """Rows whose target is known."""
        return self.history.iloc[: self.history.index.searchsorted(self.label_cutoff, side="left")]

    def latest(self) -> pd.DataFrame:
        """The rows of the latest complete window, ``[now - window, now)`` (features only)."""
        begin = self.history.index.searchsorted(self.now - self.window, side="left")
        return self.history.iloc[begin:].drop(columns=[self.target], errors="ignore")


def boundary_view(
    frame: pd.DataFrame,
    target: str,
    now: pd.Timestamp,
    label_delay: pd.Timedelta,
    window: pd.Timedelta,
    predictions: np.ndarray | None = None,
) -> BoundaryView:
    """Build the view of ``frame`` at ``now``: copies of the earlier rows, unknown targets blanked.

    Args:
        frame: Every row (sorted ``DatetimeIndex``); only those before ``now`` are copied.
        target: The target column.
        now: The boundary.
        label_delay: How long after a row's time its target becomes known.
        window: The length of a window.
        predictions: The deployed models' predictions aligned with ``frame`` (or ``None``).
    """
    # lazy: pandas takes half a second to import; loaded where frames are handled
    import numpy as np
    import pandas as pd

    end = frame.index.searchsorted(now, side="left")
    history = frame.iloc[:end].copy()
    cutoff = now - label_delay
    unknown = history.index >= cutoff
    if unknown.any():
        history.loc[unknown, target] = np.nan
    values = np.full(end, np.nan) if predictions is None else np.array(predictions[:end], dtype=float)
    return BoundaryView(now, cutoff, window, history, pd.Series(values, index=history.index), target)


@dataclass
class Deployment:
    """The model in production and what it was trained on."""

    key: str
    model: Any = field(repr=False)
    training: pd.DataFrame = field(repr=False)
    label_cutoff: pd.Timestamp
    deployed_at: pd.Timestamp
    train_seconds: float = 0.0
    policy: TrainingPolicy | None = None  # None: the reference model (or a champion) with its own rows
    schema: DatasetSchema | None = None


@dataclass(frozen=True)
class Decision:
    """Whether to retrain at a boundary and why (the trigger that fired, or why not)."""

    retrain: bool
    reason: str


class DriftLookup(ABC):
    """Drift of current rows against a deployment's training data (cached by the engine)."""

    @abstractmethod
    def drift(self, deployment: Deployment, current: pd.DataFrame, columns: tuple[str, ...] | None) -> DriftResult:
        """Return the drift of ``current`` against ``deployment.training`` on ``columns``."""


class Trigger(ABC):
    """Decides at a boundary whether the deployed model should be retrained."""

    name: ClassVar[str]

    def __init__(self, arg: str | None) -> None:
        self.arg = arg

    @property
    def spec(self) -> str:
        """The canonical spec, e.g. ``periodic:4W``."""
        return f"{self.name}:{self.arg}" if self.arg else self.name

    @abstractmethod
    def decide(self, view: BoundaryView, deployed: Deployment, drift: DriftLookup | None) -> Decision:
        """Return the decision at ``view.now`` for the ``deployed`` model."""


TRIGGERS: dict[str, type[Trigger]] = {}


def register_trigger(cls: type[Trigger]) -> type[Trigger]:
    """Class decorator: make a trigger available by its ``name``."""
    TRIGGERS[cls.name] = cls
    return cls


@register_trigger
class Never(Trigger):
    """Keep the reference model forever."""

    name = "never"

    def decide(self, view: BoundaryView, deployed: Deployment, drift: DriftLookup | None) -> Decision:
        """Never retrain."""
        return Decision(False, "never retrains")


@register_trigger
class Periodic(Trigger):
    """Retrain when the deployed model is ``period`` old (``4W``, or ``4`` windows)."""

    name = "periodic"

    def __init__(self, arg: str | None) -> None:
        super().__init__(arg or "4W")
        self.windows = int(self.arg) if self.arg.isdigit() else None
        self.period = None if self.windows is not None else parse_duration(self.arg)
        if (self.windows or 0) < 1 and (self.period is None or self.period.total_seconds() <= 0):
            raise ConfigError(f"periodic:{self.arg}: give a positive period, e.g. periodic:4W")

    def decide(self, view: BoundaryView, deployed: Deployment, drift: DriftLookup | None) -> Decision:
        """Retrain once the model's age reaches the period."""
        period = self.period if self.period is not None else self.windows * view.window
        age = view.now - deployed.deployed_at
        if age >= period:
            return Decision(True, f"model is {_days(age)} old (period {self.arg})")
        return Decision(False, f"model is {_days(age)} old, below the period {self.arg}")


@register_trigger
class DriftTrigger(Trigger):
    """Retrain when the latest window drifted from the deployed model's training data.

    ``drift:0.5``: the dataset drift share is at least 0.5; ``drift:0.5/temp,hum``: the
    share among the named features; ``drift:temp,hum``: any of the named features drifted;
    ``drift:top2``: at least 2 features drifted.
    """

    name = "drift"

    def __init__(self, arg: str | None) -> None:
        super().__init__(arg or "0.5")
        share, among, names = self.arg.partition("/")
        self.share: float | None = None
        self.columns: tuple[str, ...] | None = None
        self.top = int(share[3:]) if not among and share.startswith("top") and share[3:].isdigit() else None
        try:
            self.share = None if self.top is not None else float(share)
        except ValueError:
            if among:
                raise ConfigError(f"drift:{self.arg}: give a share before the '/', e.g. drift:0.5/temp,hum") from None
        if among or (self.share is None and self.top is None):
            self.columns = tuple(c.strip() for c in (names if among else self.arg).split(",") if c.strip())
        if (self.share is not None and not 0 < self.share <= 1) or self.top == 0 or self.columns == ():
            raise ConfigError(
                f"drift:{self.arg}: give a share in (0, 1] (drift:0.5, or drift:0.5/temp,hum among these "
                "features), features (drift:temp,hum) or a number of drifted features (drift:top2)"
            )

    def decide(self, view: BoundaryView, deployed: Deployment, drift: DriftLookup | None) -> Decision:
        """Compare the latest window with the deployed model's training rows."""
        if drift is None:
            raise ConfigError("the drift trigger needs a drift engine")
        latest = view.latest()
        if latest.empty or view.now <= deployed.deployed_at:
            return Decision(False, "no production window since the model was deployed")
        result = drift.drift(deployed, latest, self.columns)
        if self.top is not None:
            fired_top = result.n_drifted >= self.top
            return Decision(fired_top, f"{result.n_drifted} features drifted ({'>=' if fired_top else '<'} {self.top})")
        if self.columns is not None and self.share is None:
            fired = [c for c in result.drifted_columns if c in self.columns]
            if fired:
                return Decision(True, f"features drifted: {', '.join(fired)}")
            return Decision(False, f"none of {', '.join(self.columns)} drifted")
        share = result.share
        if share is None:
            return Decision(False, "drift could not be tested on the latest window")
        if share >= self.share:
            return Decision(True, f"drift share {share:.2f} >= {self.share:g} ({', '.join(result.drifted_columns)})")
        return Decision(False, f"drift share {share:.2f} < {self.share:g}")


@register_trigger
class PerformanceTrigger(Trigger):
    """Retrain when the recent MAE exceeds ``factor`` x the deployed model's reference MAE.

    The reference MAE is the model's MAE over its first window of labelled production
    rows; the recent MAE is over the last window of labelled rows (``performance:1.3,2``: over
    each of the last 2 windows, a patience of 2). Only rows whose labels are known count, so
    with a label delay the trigger waits for them.
    """

    name = "performance"

    def __init__(self, arg: str | None) -> None:
        super().__init__(arg or "1.3")
        factor, _, patience = self.arg.partition(",")
        try:
            self.factor, self.patience = float(factor), int(patience or 1)
        except ValueError:
            raise ConfigError(f"performance:{self.arg}: give a factor and a patience, e.g. performance:1.3,2") from None
        if self.factor <= 0 or self.patience < 1:
            raise ConfigError(f"performance:{self.arg}: the factor and the patience must be positive")

    def decide(self, view: BoundaryView, deployed: Deployment, drift: DriftLookup | None) -> Decision:
        """Compare the latest labelled window's MAE with the reference MAE."""
        # lazy: numpy only where arrays are computed
        import numpy as np

        labelled = view.labelled()
        since = labelled.index >= deployed.deployed_at
        if view.label_cutoff < deployed.deployed_at + self.patience * view.window:
            return Decision(False, "waiting for a full window of labels since deployment")
        actual = labelled[view.target].to_numpy(dtype=float)
        error = np.abs(view.predictions.to_numpy()[: len(labelled)] - actual)
        first = since & (labelled.index < deployed.deployed_at + view.window)
        recent = [
            _nanmean(error[since & (labelled.index >= view.label_cutoff - (k + 1) * view.window)
                           & (labelled.index < view.label_cutoff - k * view.window)])
            for k in range(self.patience)
        ]  # fmt: skip
        reference_mae, recent_mae = _nanmean(error[first]), recent[0]
        if math.isnan(reference_mae) or any(math.isnan(m) for m in recent):
            return Decision(False, "no labelled predictions to measure")
        over = sum(m > self.factor * reference_mae for m in recent)
        if self.patience > 1:
            return Decision(over == self.patience, f"MAE above {self.factor:g} x reference MAE {reference_mae:.1f} "
                                                   f"in {over} of the last {self.patience} windows")  # fmt: skip
        if over:
            return Decision(True, f"recent MAE {recent_mae:.1f} > {self.factor:g} x reference MAE {reference_mae:.1f}")
        return Decision(False, f"recent MAE {recent_mae:.1f} <= {self.factor:g} x reference MAE {reference_mae:.1f}")


def _nanmean(values: np.ndarray) -> float:
    # lazy: numpy only where arrays are computed
    import numpy as np

    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else float("nan")


def _days(delta: pd.Timedelta) -> str:
    days = delta.total_seconds() / 86400
    return f"{days:.0f} days" if days >= 1 else f"{delta.total_seconds() / 3600:.0f} hours"
