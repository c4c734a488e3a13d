"""Models in MLflow: logging and loading them, and which models modelmedic loads.

A scikit-learn model is saved and loaded with skops trusting only the types scikit-learn,
numpy and scipy define (and ``functools.partial``, which gradient boosting holds); any other
type, a pickle, or a loader bringing its own code is refused unless the user opts in.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from modelmedic.config import Settings, get_settings
from modelmedic.errors import ModelNotFoundError, TrackingError, UntrustedModelError
from modelmedic.secrets import masked, masked_text
from modelmedic.tracking.store import configure, raise_if_unreachable, require_store, store_errors

if TYPE_CHECKING:
    import pandas as pd

_TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.")
_TRUSTED_EXACT = frozenset({"functools.partial"})  # scikit-learn's gradient boosting holds one


def trusted_types(model: Any) -> list[str]:
    """The types skops must be told to trust to save ``model``.

    Only classes from scikit-learn, numpy and scipy are trusted; MLflow saves
    scikit-learn models with skops, which refuses tree models unless told.

    Raises:
        TrackingError: when the model holds a type from elsewhere (save it another way).
    """
    # lazy: skops, only where models are saved or loaded
    import skops.io

    untrusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    foreign = foreign_types(untrusted)
    if foreign:
        raise TrackingError(f"the model holds types modelmedic does not trust for skops: {', '.join(foreign)}")
    return list(untrusted)


def foreign_types(types: Iterable[str]) -> list[str]:
    """The ``types`` outside what modelmedic trusts skops with (scikit-learn, numpy, scipy)."""
    return [t for t in types if not t.startswith(_TRUSTED_PREFIXES) and t not in _TRUSTED_EXACT]


def load_skops(flavors: Mapping[str, Any], local: Path, model_uri: str) -> Any:
    """Load the skops file of the ``sklearn`` flavor of the model folder ``local`` (its
    ``MLmodel`` flavors given), trusting only the types :func:`trusted_types` allows.

    Raises:
        UntrustedModelError: when the model is not a skops scikit-learn model, brings its own
            code or holds a type from elsewhere.
        ModelNotFoundError: when its skops file cannot be read.
    """
    # lazy: skops, only where models are saved or loaded
    import skops.io

    sklearn_flavor, pyfunc = flavors.get("sklearn") or {}, flavors.get("python_function") or {}
    path = (local / str(sklearn_flavor.get("pickled_model", ""))).resolve()
    problem, untrusted = "", []
    if not sklearn_flavor:
        problem = f"it is not a scikit-learn model (flavors: {', '.join(flavors) or 'none'})"
    elif sklearn_flavor.get("serialization_format") != "skops":
        problem = f"it is saved with {sklearn_flavor.get('serialization_format') or 'pickle'}"
    elif pyfunc.get("loader_module", "mlflow.sklearn") != "mlflow.sklearn" or sklearn_flavor.get("code"):
        problem = f"it brings its own code (loader {pyfunc.get('loader_module')})"
    elif not path.is_file() or not path.is_relative_to(local.resolve()):
        problem = "its skops file is missing"
    try:
        untrusted = [] if problem else skops.io.get_untrusted_types(file=path)
        if foreign := foreign_types(untrusted):
            problem = f"it holds types modelmedic does not trust ({', '.join(foreign)})"
        if problem:
            raise UntrustedModelError(
                f"refusing model {masked(model_uri)}: {problem}, whose loader can run code; "
                "set MODELMEDIC_TRUST_PICKLE=1 only if you trust where it comes from"
            )
        return skops.io.load(path, trusted=untrusted)
    except UntrustedModelError:
        raise
    except Exception as exc:  # a damaged file: skops raises many kinds
        raise ModelNotFoundError(f"cannot load model {masked(model_uri)}: {masked_text(str(exc))}") from None


def log_model(model: Any, input_example: pd.DataFrame, name: str = "model", settings: Settings | None = None) -> Any:
    """Log a scikit-learn ``model`` to the active run with signature and input example.

    The model is saved with skops (the safe format), trusting exactly the scikit-learn/numpy
    types it holds.

    Returns:
        MLflow's ``ModelInfo`` (``model_uri``, ``run_id``...).

    Raises:
        TrackingError: when the model holds untrusted types, or the store does not answer
            or refuses.
    """
    # lazy: MLflow's scikit-learn flavor, only where models are saved or loaded
    import mlflow.sklearn
    from mlflow.models import infer_signature

    example = input_example.head(5)
    with store_errors(settings), warnings.catch_warnings():
        # MLflow hints that integer columns cannot hold NaN: the features never do.
        warnings.simplefilter("ignore", UserWarning)
        signature = infer_signature(example, model.predict(example))
        return mlflow.sklearn.log_model(
            model,
            name=name,
            signature=signature,
            input_example=example,
            serialization_format="skops",
            skops_trusted_types=trusted_types(model),
        )


def load_model(model_uri: str, settings: Settings | None = None, *, create: bool = True) -> Any:
    """Load a scikit-learn model from any MLflow model URI or local path.

    Raises:
        ModelNotFoundError: when nothing loads from ``model_uri``.
        TrackingError: when the store does not answer.
    """
    # lazy: MLflow's scikit-learn flavor, only where models are saved or loaded
    import mlflow.sklearn
    from mlflow.exceptions import MlflowException

    settings = settings or get_settings()
    if not create and model_uri.startswith(("models:/", "runs:/")):
        require_store(settings)
    configure(settings, create=create)
    try:
        return mlflow.sklearn.load_model(model_uri)
    except (MlflowException, OSError) as exc:
        raise_if_unreachable(exc, settings)
        raise ModelNotFoundError(
            f"cannot load model {masked(model_uri)}: {masked_text(str(exc))}; run 'modelmedic train' first"
        ) from None


class TrustedModel(NamedTuple):
    """A model loaded by :func:`load_trusted_model` and the input example saved with it."""

    model: Any
    input_example: pd.DataFrame | None


def load_trusted_model(model_uri: str, settings: Settings | None = None, *, create: bool = True) -> TrustedModel:
    """Load a model only in a format whose loader cannot run code, unless the user opted in.

    The model's ``MLmodel`` must name the ``sklearn`` flavor saved with skops; the file is
    loaded trusting only the scikit-learn, numpy and scipy types it holds (the list
    :func:`log_model` trusts when saving), never the list the model carries itself. Other
    flavors and serializations (pickle, cloudpickle, a custom pyfunc loader, bundled code)
    load only with ``MODELMEDIC_TRUST_PICKLE=1`` (``settings.trust_pickle``).

    Args:
        model_uri: Any MLflow model URI or a local model folder.
        settings: The settings naming the store.
        create: Create the default store when missing (false for checks and for loading).

    Returns:
        The model and its saved input example (``None`` when it has none).

    Raises:
        ModelNotFoundError: when nothing loads from ``model_uri``.
        UntrustedModelError: when the model's format or types are not trusted.
        TrackingError: when the store does not answer.
    """
    # lazy: MLflow's artifact download and model metadata, only where models are loaded
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException
    from mlflow.models import Model

    settings = settings or get_settings()
    configure(settings, create=create)
    with tempfile.TemporaryDirectory(prefix="modelmedic-model-") as folder:
        try:
            local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=folder))
            meta = Model.load(str(local))
        except (MlflowException, OSError) as exc:
            raise_if_unreachable(exc, settings)
            raise ModelNotFoundError(
                f"cannot load model {masked(model_uri)}: {masked_text(str(exc))}; run 'modelmedic train' first"
            ) from None
        try:
            example = meta.load_input_example(str(local))
        except Exception:  # no example saved, or one in another form: the caller uses its own
            example = None
        if settings.trust_pickle:
            model = load_model(str(local), settings, create=create)
        else:
            model = load_skops(meta.flavors, local, model_uri)
    # lazy: pandas, to tell a saved data frame example from other forms
    import pandas as pd

    return TrustedModel(model, example if isinstance(example, pd.DataFrame) else None)


def preload() -> None:
    """Import what loading a model imports (import only: nothing runs), for a process that
    forks workers after it (``gunicorn --preload``-style), so they share those pages."""
    # lazy: the point of this function is to import them now
    import mlflow.sklearn  # noqa: F401
    import skops.io  # noqa: F401
