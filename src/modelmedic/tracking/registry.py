"""The model registry: ``models:/`` URIs, registering versions and the ``champion`` alias."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

from modelmedic.config import Settings, get_settings
from modelmedic.errors import ModelNotFoundError
from modelmedic.secrets import masked
from modelmedic.tracking.store import NOT_FOUND_CODES, client, require_store, store_errors, unreachable_reason

CHAMPION = "champion"


class RegistryRef(NamedTuple):
    """A registered model named by a ``models:/`` URI: its name and either a version
    number or an alias (neither for other forms, such as ``models:/name/latest``)."""

    name: str
    version: str | None = None
    alias: str | None = None


_REGISTRY_URI = re.compile(r"models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<ref>[^/]+))?/?")


def registry_ref(uri: str) -> RegistryRef | None:
    """Parse ``models:/name@alias`` and ``models:/name/3``; ``None`` for other URIs.

    Example:
        >>> registry_ref("models:/bike-demand@champion")
        RegistryRef(name='bike-demand', version=None, alias='champion')
    """
    match = _REGISTRY_URI.fullmatch(uri)
    if match is None:
        return None
    ref = match.group("ref")
    return RegistryRef(match.group("name"), ref if ref and ref.isdigit() else None, match.group("alias"))


def register(
    model_uri: str,
    name: str,
    alias: str | None = CHAMPION,
    settings: Settings | None = None,
    tags: Mapping[str, str] | None = None,
) -> str:
    """Register ``model_uri`` as a new version of ``name`` and point ``alias`` at it.

    Returns:
        The new version number (as a string).

    Raises:
        TrackingError: when the store does not answer or refuses.
    """
    # lazy: mlflow takes about a second to import; commands that never reach a store skip it
    import mlflow

    settings = settings or get_settings()
    registry = client(settings)
    with store_errors(settings):
        version = mlflow.register_model(model_uri, name, tags=dict(tags or {}))
    if alias:
        registry.set_registered_model_alias(name, alias, version.version)
    return str(version.version)


def champion(settings: Settings | None = None, name: str | None = None, *, create: bool = True) -> tuple[str, str]:
    """Return ``(model_uri, version)`` of the registry's champion.

    Args:
        settings: The settings naming the store.
        name: The registered model (default: the ``model_name`` setting).
        create: Create the default store when missing (false for checks: then a missing
            store is reported as no champion).

    Raises:
        ModelNotFoundError: when no champion exists; the message says how to train one.
        TrackingError: when the store does not answer or refuses.
    """
    # lazy: MLflow's exception type, to tell "no such alias" from other refusals
    from mlflow.exceptions import MlflowException

    settings = settings or get_settings()
    name = name or settings.model_name
    if not create:
        require_store(settings)
    with store_errors(settings):
        registry = client(settings, create=create).mlflow_client
        try:
            version = registry.get_model_version_by_alias(name, CHAMPION)
        except MlflowException as exc:
            if unreachable_reason(exc) is not None or exc.error_code not in NOT_FOUND_CODES:
                raise
            raise ModelNotFoundError(
                f"no '{CHAMPION}' model named '{name}' in {masked(settings.resolved_tracking_uri)}: "
                "run 'modelmedic train' first"
            ) from None
    return f"models:/{name}@{CHAMPION}", str(version.version)
