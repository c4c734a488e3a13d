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
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from modelmedic import tracking
from modelmedic.config import Settings
from modelmedic.errors import ModelNotFoundError, ModelRejectedError
from modelmedic.schema import DatasetSchema
from modelmedic.service.schemas import EXAMPLE_INSTANCE

if TYPE_CHECKING:
    import pandas as pd

    from modelmedic.tracking import RegistryRef

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
        # lazy: pandas costs ~0.4 s to import
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
    # lazy: scikit-learn costs ~0.5 s to import
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
    version, run_id = "", None
    try:
        mlflow_client = tracking.client(settings, create=False)  # describing creates no store
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
            run_id = tracking.model_run_id(uri, settings)
    except Exception:  # an unreachable store or a model logged elsewhere: describe less
        pass
    info: dict[str, Any] = {}
    if run_id:
        try:
            run = tracking.client(settings, create=False).get_run(run_id)
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


def followed_alias(settings: Settings) -> RegistryRef | None:
    """The registry alias the service follows (the champion unless ``model_uri`` pins another
    source); ``None`` when ``MODELMEDIC_MODEL_URI`` names a fixed version, run or path."""
    ref = tracking.registry_ref(settings.model_uri or f"models:/{settings.model_name}@{tracking.CHAMPION}")
    return ref if ref is not None and ref.alias else None


def alias_version(settings: Settings, ref: RegistryRef) -> str:
    """The version the registry alias ``ref`` points at now.

    Raises:
        ModelNotFoundError: when the alias names no version; the message names ``modelmedic train``.
        TrackingError: when the store cannot be reached.
    """
    if ref.alias == tracking.CHAMPION and ref.name == settings.model_name:
        return tracking.champion(settings)[1]
    with tracking.store_errors(settings):
        return str(tracking.client(settings).get_model_version_by_alias(ref.name, str(ref.alias)).version)


def load_served_model(
    settings: Settings, schema: DatasetSchema, columns: Sequence[str], version: str | None = None
) -> ServedModel:
    """Load the model to serve and prove it: ``settings.model_uri``, else the registry's champion.

    A registry alias is resolved to its version first and that version is loaded, so an
    alias moved meanwhile cannot mix two models. The model is loaded only in a trusted
    format (:func:`modelmedic.tracking.load_trusted_model`) and must predict its saved
    input example (else :data:`EXAMPLE_INSTANCE`) with one finite value per row.

    Args:
        settings: The service's settings.
        schema: The data set description of the requests.
        columns: The request's feature names, in matrix column order.
        version: Load this version of the followed alias's model instead of the alias's own.

    Raises:
        ModelNotFoundError: when there is no model; the message names ``modelmedic train``.
        UntrustedModelError: when the model is stored in a format whose loader can run code.
        ModelRejectedError: when the model cannot predict its example (it is not served).
    """
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # no bars in server logs
    alias = followed_alias(settings)
    uri = settings.model_uri or f"models:/{settings.model_name}@{tracking.CHAMPION}"
    if alias is not None:
        version = version or alias_version(settings, alias)
        load_uri = f"models:/{alias.name}/{version}"
        _, run_id, info = _describe(load_uri, settings)
    else:
        load_uri = uri
        version, run_id, info = _describe(uri, settings)
    loaded = tracking.load_trusted_model(load_uri, settings, create=False)  # loading creates no store
    if not callable(getattr(loaded.model, "predict", None)):
        raise ModelRejectedError(f"model {load_uri} has no predict method: it is not served", "no_predict")
    served = ServedModel(
        uri=uri,
        version=version,
        run_id=run_id,
        info=info,
        predict=compile_predictor(loaded.model, schema, columns),
        columns=tuple(columns),
        model=loaded.model,
    )
    prove(served, proof_matrix(loaded.input_example, columns), load_uri)
    return served


def proof_matrix(example: pd.DataFrame | None, columns: Sequence[str]) -> np.ndarray:
    """The rows a new model must predict before it serves: its saved input example, or the
    service's example instance when the example is missing or lacks a column."""
    if example is not None and len(example) and all(c in example.columns for c in columns):
        try:
            return example[list(columns)].to_numpy(dtype=float)
        except (TypeError, ValueError):
            pass  # a column of text: use the service's own example
    return np.asarray([[EXAMPLE_INSTANCE[c] for c in columns]], dtype=float)


def prove(served: ServedModel, matrix: np.ndarray, uri: str) -> None:
    """Check that ``served`` predicts ``matrix`` with one finite number per row.

    Raises:
        ModelRejectedError: with the reason (``predict_error``, ``shape``, ``non_finite``).
    """
    name = f"model {uri}"
    try:
        predicted = np.asarray(served.predict(matrix), dtype=float)
    except Exception as exc:  # any failure of a foreign model's code counts
        raise ModelRejectedError(
            f"{name} fails on its input example: {type(exc).__name__}: {exc}", "predict_error"
        ) from None
    if predicted.shape != (len(matrix),):
        raise ModelRejectedError(
            f"{name} answers shape {predicted.shape} for {len(matrix)} example rows, not ({len(matrix)},)", "shape"
        )
    if not np.isfinite(predicted).all():
        raise ModelRejectedError(f"{name} predicts non-finite values for its input example", "non_finite")
