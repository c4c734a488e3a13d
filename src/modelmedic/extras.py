"""Optional parts of modelmedic (pip extras) and the one-line error when one is missing.

The web service installs only ``modelmedic[serve]``; evidently, plotly, matplotlib,
pyarrow and the MLflow UI come with ``modelmedic[monitor]``. Code that needs one of them
imports it through :func:`require`, which marks the import as lazy on purpose and turns
its absence into :class:`~modelmedic.errors.MissingExtraError`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from modelmedic.errors import MissingExtraError

MONITOR = "monitor"


def require(module: str, extra: str = MONITOR, purpose: str | None = None) -> ModuleType:
    """Import ``module`` (lazily: heavy, optional) or say which extra installs it.

    Args:
        module: Dotted module name, e.g. ``"plotly.graph_objects"``.
        extra: The pip extra that installs it.
        purpose: What needs it, for the message (default: the module's package).

    Returns:
        The imported module.

    Raises:
        MissingExtraError: when the module's package is not installed.

    Example:
        >>> require("json").__name__
        'json'
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        package = module.split(".")[0]
        if (exc.name or "").split(".")[0] != package:
            raise  # a broken install of something else: not ours to explain
        raise MissingExtraError(f"{purpose or package} is not installed: pip install 'modelmedic[{extra}]'") from None


def require_installed(*modules: str, extra: str = MONITOR, purpose: str) -> None:
    """Fail fast, before long work, when a package ``purpose`` needs later is missing.

    Nothing is imported (see :func:`require` for that).

    Raises:
        MissingExtraError: naming the missing packages and the extra that installs them.
    """
    # lazy: only when probing installed extras
    from importlib.util import find_spec

    missing = [name for name in modules if find_spec(name) is None]
    if missing:
        raise MissingExtraError(
            f"{purpose} needs {', '.join(missing)}, not installed: pip install 'modelmedic[{extra}]'"
        )
