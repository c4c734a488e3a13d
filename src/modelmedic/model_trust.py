"""Which models modelmedic loads: the trust policy for skops files.

A scikit-learn model is saved and loaded with skops trusting only the types scikit-learn,
numpy and scipy define (and ``functools.partial``, which gradient boosting holds); any other
type, a pickle, or a loader bringing its own code is refused. :mod:`modelmedic.tracking`
applies it where MLflow saves and loads models; this module needs no MLflow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from modelmedic.errors import ModelNotFoundError, TrackingError, UntrustedModelError
from modelmedic.secrets import masked, masked_text

_TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.")
_TRUSTED_EXACT = frozenset({"functools.partial"})  # scikit-learn's gradient boosting holds one


def trusted_types(model: Any) -> list[str]:
    """The types skops must be told to trust to save ``model``.

    Only classes from scikit-learn, numpy and scipy are trusted; MLflow saves
    scikit-learn models with skops, which refuses tree models unless told.

    Raises:
        TrackingError: when the model holds a type from elsewhere (save it another way).
    """
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
