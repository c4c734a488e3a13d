"""Training-set policies: which labelled rows (and weights) a retrain learns from.

``expanding`` (all labelled history), ``sliding:8W`` (the last 8 weeks of labels) and
``recency:4W`` (all labels weighted ``0.5 ** (age / 4W)``, age counted from the label
cutoff; rows older than 7 half-lives, weight under 1 %, are left out).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

from modelmedic.errors import ConfigError
from modelmedic.windows import parse_freq

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

RECENCY_HORIZON = 7  # half-lives after which rows are dropped (weight below 1 %)


def window_length(freq: str) -> pd.Timedelta:
    """The nominal length of a window of ``freq`` (a month counts 31 days).

    Raises:
        ConfigError: for a frequency :func:`modelmedic.windows.parse_freq` does not understand.
    """
    # lazy: pandas takes half a second to import; loaded where frames are handled
    import pandas as pd

    anchor = pd.Timestamp("2000-01-01")
    return (anchor + parse_freq(freq)) - anchor


def parse_duration(spec: str) -> pd.Timedelta:
    """Parse ``0``, ``12H``, ``7D`` or ``8W`` into a ``Timedelta``.

    Raises:
        ConfigError: for anything else, months included (they have no fixed length).
    """
    # lazy: pandas takes half a second to import; loaded where frames are handled
    import pandas as pd

    text = str(spec).strip()
    if text in {"0", "0D", "0H", "0W", ""}:
        return pd.Timedelta(0)
    if text.upper().endswith(("M", "MS")):
        raise ConfigError(f"duration '{spec}' must be in hours, days or weeks (e.g. 7D, 8W)")
    return window_length(text)


class TrainingPolicy(ABC):
    """Which labelled rows (and weights) a retrain uses."""

    name: ClassVar[str]

    @property
    def spec(self) -> str:
        """The canonical spec, e.g. ``sliding:8W``."""
        return self.name

    @abstractmethod
    def select(self, labelled: pd.DataFrame, cutoff: pd.Timestamp) -> tuple[pd.DataFrame, np.ndarray | None]:
        """Return the training rows and their sample weights (``None``: equal weights)."""


class Expanding(TrainingPolicy):
    """All labelled history."""

    name = "expanding"

    def select(self, labelled: pd.DataFrame, cutoff: pd.Timestamp) -> tuple[pd.DataFrame, np.ndarray | None]:
        """All labelled rows, equal weights."""
        return labelled, None


class TimedPolicy(TrainingPolicy):
    """A policy with one positive duration argument (``sliding:8W``, ``recency:4W``)."""

    default: ClassVar[str]

    def __init__(self, arg: str | None) -> None:
        self.arg = arg or self.default
        self.duration = parse_duration(self.arg)
        if self.duration.total_seconds() <= 0:
            raise ConfigError(f"{self.name}:{self.arg}: give a positive duration, e.g. {self.name}:{self.default}")

    @property
    def spec(self) -> str:
        """``<name>:<duration>``."""
        return f"{self.name}:{self.arg}"


class Sliding(TimedPolicy):
    """The labelled rows of the last ``duration`` before the label cutoff."""

    name = "sliding"
    default = "8W"

    def select(self, labelled: pd.DataFrame, cutoff: pd.Timestamp) -> tuple[pd.DataFrame, np.ndarray | None]:
        """The rows from ``cutoff - duration`` on, equal weights."""
        return labelled.iloc[labelled.index.searchsorted(cutoff - self.duration, side="left") :], None


class Recency(TimedPolicy):
    """All labelled rows, weighted ``0.5 ** (age / duration)``: ``duration`` is the half-life."""

    name = "recency"
    default = "4W"

    def select(self, labelled: pd.DataFrame, cutoff: pd.Timestamp) -> tuple[pd.DataFrame, np.ndarray | None]:
        """Rows younger than 7 half-lives with their decaying weights."""
        # lazy: numpy only where arrays are computed
        import numpy as np

        rows = labelled.iloc[labelled.index.searchsorted(cutoff - RECENCY_HORIZON * self.duration, side="left") :]
        age = (cutoff - rows.index) / self.duration
        return rows, np.power(0.5, np.asarray(age, dtype=float))


POLICIES: dict[str, type[TrainingPolicy]] = {"expanding": Expanding, "sliding": Sliding, "recency": Recency}
