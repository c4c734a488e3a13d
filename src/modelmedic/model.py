"""Build, train, evaluate, save and load the demand regressor (a scikit-learn pipeline)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from modelmedic.errors import ConfigError, DataError
from modelmedic.performance import regression_metrics
from modelmedic.schema import DatasetSchema, builtin_schema

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline

MODEL_KINDS = {
    "hgb": "HistGradientBoostingRegressor (default: fast and strong)",
    "rf": "RandomForestRegressor(n_estimators=50), the classic evidently tutorial's model",
}
DEFAULT_KIND = "hgb"


def feature_frame(frame: pd.DataFrame, schema: DatasetSchema) -> pd.DataFrame:
    """Return the model's input: the schema's features with plain (non-category) dtypes.

    Categorical columns are stored as pandas ``category`` for drift analysis; the model,
    its MLflow signature and the web service see their underlying values instead.

    Raises:
        DataError: when a feature column is missing.
    """
    missing = [c for c in schema.features if c not in frame.columns]
    if missing:
        raise DataError(f"the data lack the feature columns {', '.join(missing)}")
    # lazy: pandas costs ~0.4 s to import
    import pandas as pd

    out = frame[schema.features].copy()
    for col in schema.categorical:
        if isinstance(out[col].dtype, pd.CategoricalDtype):
            out[col] = out[col].astype(out[col].cat.categories.dtype)
    return out


def build_model(
    kind: str = DEFAULT_KIND, schema: DatasetSchema | None = None, seed: int = 42, **params: Any
) -> Pipeline:
    """Return an unfitted pipeline: categorical encoding followed by the regressor.

    Args:
        kind: ``hgb`` (HistGradientBoostingRegressor) or ``rf`` (RandomForestRegressor).
        schema: The data set's column roles (the bike data by default).
        seed: Random state of the estimator.
        **params: Passed to the estimator, overriding the defaults.

    Raises:
        ConfigError: for an unknown kind or estimator parameter.
    """
    # lazy: scikit-learn costs ~0.5 s to import
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    schema = schema or builtin_schema()
    encoder = ColumnTransformer(
        [
            ("num", "passthrough", list(schema.numerical)),
            (
                "cat",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1),
                list(schema.categorical),
            ),
        ],
        verbose_feature_names_out=False,
    )
    n_num = len(schema.numerical)
    if kind == "hgb":
        defaults: dict[str, Any] = {
            "max_iter": 200,
            "learning_rate": 0.05,
            "min_samples_leaf": 10,
            "categorical_features": list(range(n_num, n_num + len(schema.categorical))) or None,
            "random_state": seed,
        }
        estimator_cls: Any = HistGradientBoostingRegressor
    elif kind == "rf":
        defaults = {"n_estimators": 50, "random_state": seed, "n_jobs": 1}
        estimator_cls = RandomForestRegressor
    else:
        raise ConfigError(f"unknown model kind '{kind}'; choose one of: {', '.join(MODEL_KINDS)}")
    try:
        estimator = estimator_cls(**{**defaults, **params})
    except TypeError as exc:
        raise ConfigError(f"bad parameter for {estimator_cls.__name__}: {exc}") from None
    return Pipeline([("encode", encoder), ("regressor", estimator)])


def fit(
    model: Pipeline, frame: pd.DataFrame, schema: DatasetSchema, sample_weight: np.ndarray | None = None
) -> Pipeline:
    """Fit ``model`` on the labelled rows of ``frame`` and return it.

    Raises:
        DataError: when the frame holds no labelled rows.
    """
    labelled = frame.loc[frame[schema.target].notna()] if schema.target in frame else frame.iloc[:0]
    if labelled.empty:
        raise DataError("no labelled rows to train on: check the training period")
    kwargs = {}
    if sample_weight is not None:
        weights = np.asarray(sample_weight, dtype=float)
        if schema.target in frame:
            weights = weights[frame[schema.target].notna().to_numpy()]
        kwargs["regressor__sample_weight"] = weights
    model.fit(feature_frame(labelled, schema), labelled[schema.target].to_numpy(dtype=float), **kwargs)
    return model


def train(
    frame: pd.DataFrame, schema: DatasetSchema, kind: str = DEFAULT_KIND, seed: int = 42, **params: Any
) -> Pipeline:
    """Build and fit a model of ``kind`` on ``frame``."""
    return fit(build_model(kind, schema, seed, **params), frame, schema)


def predict(model: Any, frame: pd.DataFrame, schema: DatasetSchema) -> np.ndarray:
    """Predict the target for every row of ``frame``; an empty frame gives an empty array."""
    if frame.empty:
        return np.empty(0, dtype=float)
    return np.asarray(model.predict(feature_frame(frame, schema)), dtype=float)


def evaluate(model: Any, frame: pd.DataFrame, schema: DatasetSchema) -> dict[str, float]:
    """Regression metrics of ``model`` on the labelled rows of ``frame``."""
    labelled = frame.loc[frame[schema.target].notna()]
    return regression_metrics(labelled[schema.target], predict(model, labelled, schema))


def seasonal_baseline(
    train_frame: pd.DataFrame, test_frame: pd.DataFrame, schema: DatasetSchema, by: str | None = None
) -> np.ndarray:
    """A naive forecast: the training mean of the target per value of ``by`` (hour of day).

    Values of ``by`` unseen in training get the overall training mean. Without ``by`` (and
    when the schema has no hour column) the overall mean is used.
    """
    by = by or schema.hour
    overall = float(train_frame[schema.target].mean())
    if not by or by not in train_frame:
        return np.full(len(test_frame), overall)
    means = train_frame.groupby(by, observed=True)[schema.target].mean()
    return test_frame[by].map(means).astype(float).fillna(overall).to_numpy()
