"""Drift of current rows against a deployment's training data, engines and results cached.

Shared by the backtest (many strategies asking about the same windows) and production
retraining (:mod:`~modelmedic.retraining.decision`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelmedic.drift import DriftOptions, get_engine
from modelmedic.errors import ConfigError
from modelmedic.retraining.triggers import Deployment, DriftLookup

if TYPE_CHECKING:
    import pandas as pd

    from modelmedic.drift import DriftResult
    from modelmedic.schema import DatasetSchema


class DriftCache(DriftLookup):
    """Drift engines fitted on deployments' training sets, and results, both reused."""

    def __init__(self, engine: str, schema: DatasetSchema) -> None:
        self.engine = engine
        self.schema = schema
        self._fitted: dict[tuple[str, tuple[str, ...]], Any] = {}
        self._results: dict[tuple[str, tuple[str, ...], str, int], DriftResult] = {}

    def drift(self, deployment: Deployment, current: pd.DataFrame, columns: tuple[str, ...] | None) -> DriftResult:
        """Drift of ``current`` against ``deployment.training`` on ``columns`` (all features)."""
        columns = tuple(columns or self.schema.features)
        unknown = [c for c in columns if c not in self.schema.features]
        if unknown:
            raise ConfigError(
                f"drift trigger: {', '.join(unknown)} not among the features {', '.join(self.schema.features)}"
            )
        result_key = (deployment.key, columns, str(current.index[0]), len(current))
        if result_key not in self._results:
            fit_key = (deployment.key, columns)
            if fit_key not in self._fitted:
                if len(self._fitted) >= 8:
                    self._fitted.pop(next(iter(self._fitted)))
                options = DriftOptions(
                    numerical=tuple(c for c in columns if c in self.schema.numerical),
                    categorical=tuple(c for c in columns if c in self.schema.categorical),
                )
                self._fitted[fit_key] = get_engine(self.engine, options).fit(deployment.training[list(columns)])
            self._results[result_key] = self._fitted[fit_key].calculate(current[list(columns)])
        return self._results[result_key]
