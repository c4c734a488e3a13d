"""The served model: where it comes from, what it is, and a fast prediction function.

The model source, in order: ``MODELMEDIC_MODEL_URI`` (any MLflow model URI or a local
path), else the registry's ``champion``. The scikit-learn pipeline is compiled into a
function of a plain numpy matrix: the ordinal encoding is a lookup and a random forest
averages its trees directly, which skips pandas and joblib on the request path (a
single-row ``Pipeline.predict`` on a DataFrame costs milliseconds, this costs well under
one). Any other pipeline shape falls back to ``Pipeline.predict`` on a DataFrame with
``n_jobs=1``; both paths give the same numbers (checked by the tests).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelmedic.config import Settings
from modelmedic.errors import ModelNotFoundError
from modelmedic.schema import DatasetSchema

MatrixPredictor = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ServedModel:
    """A loaded model and what the service says about it (immutable: swapped whole on reload).

    Attributes:
        uri: The URI asked for (``models:/name@champion``, a path, …).
        version: The registry version, or the run id when the model is not registered.
        run_id: The MLflow run that logged the model, when known.
        info: Training period, estimator and metrics read from that run.
        predict: Predicts from a float matrix whose columns are ``columns``.
        columns: The request's feature names, in matrix column order.
        model: The scikit-learn pipeline itself.
    """

    uri: str
    version: str
    run_id: str | None
    info: dict[str, Any]
    predict: MatrixPredictor
    columns: tuple[str, ...]
    model: Any = field(repr=False)
    loaded_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


def compile_predictor(model: Any, schema: DatasetSchema, columns: Sequence[str]) -> MatrixPredictor:
    """Return a function predicting from a float matrix with ``columns`` (request order).

    Raises:
        ModelNotFoundError: when the schema needs a feature that ``columns`` lacks.
    """
    missing = [c for c in schema.features if c not in columns]
    if missing:
        raise ModelNotFoundError(f"the model needs features the service does not take: {', '.join(missing)}")
    order = np.array([list(columns).index(c) for c in schema.features])
    fast = _compile_pipeline(model, schema)
    if fast is not None:
        return lambda matrix: fast(matrix[:, order])
    _single_job(model)
    integer = set(schema.categorical) | {c for c in schema.numerical if c in {"hr", "weekday", "mnth"}}

    def predict_frame(matrix: np.ndarray) -> np.ndarray:
        import pandas as pd

        frame = pd.DataFrame(matrix[:, order], columns=schema.features)
        for col in integer:
            frame[col] = frame[col].astype("int64")
        return np.asarray(model.predict(frame), dtype=float)

    return predict_frame


def _single_job(model: Any) -> None:
    """Predict without joblib worker overhead: one row never gains from parallel trees."""
    steps = getattr(model, "named_steps", {}) or {}
    for estimator in [model, *steps.values()]:
        params = estimator.get_params(deep=False) if hasattr(estimator, "get_params") else {}
        if "n_jobs" in params:
            estimator.set_params(n_jobs=1)


def _compile_pipeline(model: Any, schema: DatasetSchema) -> MatrixPredictor | None:
    """The numpy version of ``encode -> regressor`` pipelines built by :mod:`modelmedic.model`.

    Returns ``None`` for any other shape (then the generic path is used).
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import ExtraTreesRegressor, RandomForestRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder

    if not isinstance(model, Pipeline) or len(model.steps) != 2:
        return None
    encoder, regressor = model.steps[0][1], model.steps[1][1]
    if not isinstance(encoder, ColumnTransformer):
        return None
    features = list(schema.features)
    parts: list[Callable[[np.ndarray], np.ndarray]] = []
    for _name, transformer, cols in encoder.transformers_:
        if transformer == "drop" or (isinstance(cols, list) and not cols):
            continue
        if not isinstance(cols, list) or any(c not in features for c in cols):
            return None
        index = [features.index(c) for c in cols]
        if transformer == "passthrough" or (isinstance(transformer, FunctionTransformer) and transformer.func is None):
            parts.append(lambda m, i=index: m[:, i])
        elif isinstance(transformer, OrdinalEncoder) and transformer.handle_unknown == "use_encoded_value":
            categories = [np.asarray(c, dtype=float) for c in transformer.categories_]
            if any(np.isnan(c).any() or np.any(np.diff(c) <= 0) for c in categories):
                return None
            parts.append(lambda m, i=index, c=categories, u=float(transformer.unknown_value): _ordinal(m[:, i], c, u))
        else:
            return None

    def encode(matrix: np.ndarray) -> np.ndarray:
        return np.hstack([part(matrix) for part in parts])

    if isinstance(regressor, RandomForestRegressor | ExtraTreesRegressor) and regressor.n_outputs_ == 1:
        trees = [estimator.tree_ for estimator in regressor.estimators_]

        def forest(matrix: np.ndarray) -> np.ndarray:
            x = np.ascontiguousarray(encode(matrix), dtype=np.float32)
            total = np.zeros(x.shape[0], dtype=np.float64)
            for tree in trees:  # what the forest's predict does, without joblib
                total += tree.predict(x)[:, 0]
            return total / len(trees)

        return forest
    _single_job(regressor)
    return lambda matrix: np.asarray(regressor.predict(encode(matrix)), dtype=float)


def _ordinal(values: np.ndarray, categories: list[np.ndarray], unknown: float) -> np.ndarray:
    out = np.empty(values.shape, dtype=float)
    for j, known in enumerate(categories):
        column = values[:, j]
        position = np.searchsorted(known, column).clip(0, len(known) - 1)
        out[:, j] = np.where(known[position] == column, position, unknown)
    return out


def _describe(uri: str, settings: Settings) -> tuple[str, str | None, dict[str, Any]]:
    """``(version, run_id, info)`` of the model at ``uri``, read from MLflow (best effort)."""
    from modelmedic import tracking

    version, run_id = "", None
    try:
        mlflow_client = tracking.client(settings)
        ref = tracking.registry_ref(uri)
        if ref is not None:  # other registry forms (models:/name/latest) are described less
            found = None
            if ref.alias:
                found = mlflow_client.get_model_version_by_alias(ref.name, ref.alias)
            elif ref.version:
                found = mlflow_client.get_model_version(ref.name, ref.version)
            if found is not None:
                version, run_id = str(found.version), found.run_id
        elif uri.startswith("runs:/"):
            run_id = uri.removeprefix("runs:/").split("/", 1)[0]
        else:
            from mlflow.models import Model

            run_id = Model.load(uri).run_id
    except Exception:  # an unreachable store or a model logged elsewhere: describe less
        pass
    info: dict[str, Any] = {}
    if run_id:
        try:
            run = tracking.client(settings).get_run(run_id)
            params = run.data.params
            info = {
                "training_start": params.get("reference_start"),
                "training_end": params.get("reference_end"),
                "estimator": params.get("estimator"),
                "metrics": {k: float(v) for k, v in run.data.metrics.items()},
            }
        except Exception:
            pass
    return version or (run_id or "local"), run_id, info


def load_served_model(settings: Settings, schema: DatasetSchema, columns: Sequence[str]) -> ServedModel:
    """Load the model to serve: ``settings.model_uri``, else the registry's champion.

    A champion is loaded by its version number, so a champion moved meanwhile cannot
    mix two models.

    Raises:
        ModelNotFoundError: when there is no model; the message names ``modelmedic train``.
    """
    import os

    from modelmedic import tracking

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # no bars in server logs
    if settings.model_uri:
        uri = settings.model_uri
        version, run_id, info = _describe(uri, settings)
        load_uri = uri
    else:
        uri, version = tracking.champion(settings)
        load_uri = f"models:/{settings.model_name}/{version}"
        _, run_id, info = _describe(load_uri, settings)
    model = tracking.load_model(load_uri, settings)
    return ServedModel(
        uri=uri,
        version=version,
        run_id=run_id,
        info=info,
        predict=compile_predictor(model, schema, columns),
        columns=tuple(columns),
        model=model,
    )
