"""The models of a backtest, cached by training set, and their predictions.

A :class:`ModelStore` trains each distinct training set (policy + label cutoff + model)
once and shares the model among the strategies that ask for it, and predicts a model's
next windows in one call (drift results are cached by
:class:`~modelmedic.retraining.drift_cache.DriftCache`).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from modelmedic.errors import DataError
from modelmedic.retraining.triggers import Deployment
from modelmedic.windows import day_end, select_period

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from modelmedic.backtest.config import BacktestConfig
    from modelmedic.schema import DatasetSchema
    from modelmedic.windows import Window

PREDICT_AHEAD = 8  # windows a model predicts in one call


def limit_threads() -> Any:
    """Limit native thread pools (OpenMP, BLAS) to one thread; return the limiter.

    Gradient boosting's OpenMP threads slow down badly when processes share two cores.
    The estimators are imported first, as the limit only reaches loaded libraries.
    """
    # lazy: scikit-learn, loaded only when models are fitted
    import sklearn.ensemble  # noqa: F401  (loads OpenMP)
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


class ModelStore:
    """Trains each distinct training set once and caches models and their predictions."""

    def __init__(
        self, frame: pd.DataFrame, schema: DatasetSchema, config: BacktestConfig, windows: list[Window]
    ) -> None:
        self.frame = frame
        self.schema = schema
        self.config = config
        self.windows = windows
        self.bounds = [(frame.index.searchsorted(w.begin), frame.index.searchsorted(w.end)) for w in windows]
        self._models: dict[str, tuple[Any, float]] = {}
        self._predictions: dict[str, tuple[int, np.ndarray]] = {}
        self._reference: Deployment | None = None

    def model(self, key: str, rows: pd.DataFrame, weights: np.ndarray | None) -> tuple[Any, float]:
        """The model trained on ``rows`` (``key`` names them) and its training CPU seconds."""
        # lazy: modelmedic.model imports numpy
        from modelmedic.model import build_model, fit

        if key not in self._models:
            began = time.process_time()
            model = build_model(self.config.kind, self.schema, self.config.seed, **self.config.estimator_params)
            fit(model, rows, self.schema, sample_weight=weights)
            self._models[key] = (model, time.process_time() - began)
        return self._models[key]

    def reference(self) -> Deployment:
        """The reference model, deployed at the first window boundary."""
        if self._reference is None:
            rows = select_period(self.frame, self.config.reference_start, self.config.reference_end)
            if rows[self.schema.target].notna().sum() == 0:
                raise DataError("the reference period holds no labelled rows to train the first model on")
            model, seconds = self.model("reference", rows, None)
            cutoff = day_end(self.config.reference_end)
            self._reference = Deployment("reference", model, rows, cutoff, cutoff, seconds, schema=self.schema)
        return self._reference

    def predict(self, deployment: Deployment, window: int) -> np.ndarray:
        """The deployment's predictions for the rows of window ``window``."""
        # lazy: modelmedic.model imports numpy
        from modelmedic.model import predict

        lo, hi = self.bounds[window]
        cached = self._predictions.get(deployment.key)
        if cached is None or lo < cached[0] or hi > cached[0] + len(cached[1]):
            stop = self.bounds[min(window + PREDICT_AHEAD, len(self.bounds)) - 1][1]
            values = predict(deployment.model, self.frame.iloc[lo:stop], self.schema)
            cached = self._predictions[deployment.key] = (lo, values)
        return cached[1][lo - cached[0] : hi - cached[0]]
