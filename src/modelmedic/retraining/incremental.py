"""An online regressor that adapts continuously: updated with each window's new labels.

Features are encoded once, from the reference period: numerical columns standardised,
categorical columns (and numerical ones holding at most 31 distinct integers, such as
hour of day) one-hot encoded. The learner is updated with scikit-learn's
``partial_fit`` on standardised targets: ``mlp`` (a small neural network, able to learn
interactions such as hour x working day) or ``sgd`` (a linear model).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from modelmedic.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

LEARNERS = {
    "mlp": "MLPRegressor(64, 32) updated with partial_fit",
    "sgd": "SGDRegressor (linear) updated with partial_fit",
}
MAX_ONE_HOT = 31


class OnlineRegressor:
    """A scikit-learn ``partial_fit`` learner on encoded features.

    Args:
        learner: ``mlp`` or ``sgd``.
        seed: Random state of the learner and of the shuffling.
        initial_epochs: Passes over the first data set given to :meth:`fit`.
        update_epochs: Passes over each batch given to :meth:`update`.
    """

    def __init__(self, learner: str = "mlp", seed: int = 42, initial_epochs: int = 20, update_epochs: int = 3) -> None:
        if learner not in LEARNERS:
            raise ConfigError(f"unknown online learner '{learner}'; choose one of: {', '.join(LEARNERS)}")
        self.learner = learner
        self.seed = seed
        self.initial_epochs = initial_epochs
        self.update_epochs = update_epochs
        self._rng = np.random.default_rng(seed)
        self._encoder: Any = None
        self._model: Any = None
        self._center = 0.0
        self._scale = 1.0

    def _new_model(self) -> Any:
        # lazy: scikit-learn, loaded only when models are fitted
        from sklearn.linear_model import SGDRegressor
        from sklearn.neural_network import MLPRegressor

        if self.learner == "sgd":
            return SGDRegressor(learning_rate="constant", eta0=0.01, random_state=self.seed)
        return MLPRegressor(hidden_layer_sizes=(64, 32), learning_rate_init=0.003, random_state=self.seed)

    def _new_encoder(self, features: pd.DataFrame) -> Any:
        # lazy: pandas takes half a second to import; loaded where frames are handled
        import pandas as pd
        from sklearn.compose import ColumnTransformer
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        numerical = [c for c in features.columns if pd.api.types.is_numeric_dtype(features[c])]
        categorical = [c for c in features.columns if c not in numerical]
        discrete = [
            c
            for c in numerical
            if features[c].nunique() <= MAX_ONE_HOT and np.allclose(features[c].to_numpy(dtype=float) % 1, 0)
        ]
        parts: list[tuple[str, Any, list[str]]] = []
        if numerical:
            parts.append(("scaled", StandardScaler(), numerical))
        if categorical or discrete:
            parts.append(("one_hot", OneHotEncoder(handle_unknown="ignore"), categorical + discrete))
        return ColumnTransformer(parts, sparse_threshold=0)

    def _learn(self, features: pd.DataFrame, target: np.ndarray, epochs: int) -> None:

        # lazy: scikit-learn, loaded only when models are fitted
        from sklearn.exceptions import ConvergenceWarning

        encoded = self._encoder.transform(features)
        scaled = (np.asarray(target, dtype=float) - self._center) / self._scale
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for _ in range(epochs):
                order = self._rng.permutation(len(encoded))
                self._model.partial_fit(encoded[order], scaled[order])

    def fit(self, features: pd.DataFrame, target: np.ndarray) -> OnlineRegressor:
        """Start afresh on ``features`` / ``target``; return ``self``."""
        target = np.asarray(target, dtype=float)
        self._encoder = self._new_encoder(features).fit(features)
        self._center = float(target.mean())
        self._scale = float(target.std()) or 1.0
        self._model = self._new_model()
        self._learn(features, target, self.initial_epochs)
        return self

    def update(self, features: pd.DataFrame, target: np.ndarray) -> OnlineRegressor:
        """Learn from a new batch (no-op when empty); return ``self``."""
        if len(features):
            self._learn(features, np.asarray(target, dtype=float), self.update_epochs)
        return self

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """Predict the target of every row of ``features``."""
        return self._model.predict(self._encoder.transform(features)) * self._scale + self._center
