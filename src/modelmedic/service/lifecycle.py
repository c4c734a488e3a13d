"""Start-up work shared by the app, ``modelmedic serve`` and the Procfile's processes.

:func:`preflight` is what runs before a server takes traffic: open (and migrate) the
prediction log, then find the model (optionally training one when none exists, which is
the Procfile's release phase). Each step fails with a one-line
:class:`~modelmedic.errors.ModelmedicError`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from modelmedic.config import Settings
from modelmedic.errors import ModelNotFoundError
from modelmedic.schema import DatasetSchema, builtin_schema
from modelmedic.service.monitoring import LiveReference, load_reference
from modelmedic.service.predictor import ServedModel, load_served_model
from modelmedic.service.schemas import FEATURE_NAMES
from modelmedic.service.store import PredictionStore, masked

logger = logging.getLogger("modelmedic.service")
SERVICE_SCHEMA = "bike-hour"


def service_schema() -> DatasetSchema:
    """The data set description of the service's requests (the hourly bike data)."""
    return builtin_schema(SERVICE_SCHEMA)


def load_model_and_reference(settings: Settings, schema: DatasetSchema) -> tuple[ServedModel, LiveReference]:
    """Load the model to serve and fit the live drift reference for it.

    Raises:
        ModelNotFoundError: when there is no model to serve.
    """
    served = load_served_model(settings, schema, FEATURE_NAMES)
    return served, load_reference(settings, served, schema)


def open_store(settings: Settings) -> PredictionStore:
    """Open and migrate the prediction log named by the settings.

    Raises:
        PredictionStoreError: when the database cannot be reached.
    """
    return PredictionStore.from_settings(settings).open()


@dataclass(frozen=True)
class PreflightReport:
    """What :func:`preflight` found (or made)."""

    store: str
    schema_version: int
    model_uri: str
    model_version: str
    trained: bool

    def line(self) -> str:
        """A one-line summary for the terminal."""
        made = " (trained now)" if self.trained else ""
        return (
            f"ready: model {self.model_uri} version {self.model_version}{made}; "
            f"prediction log {self.store} (schema v{self.schema_version})"
        )


def preflight(settings: Settings, *, train_if_missing: bool = False) -> PreflightReport:
    """Check (and prepare) what the service needs: a reachable, migrated log and a model.

    Args:
        settings: The service's settings.
        train_if_missing: The release phase (``serve --prepare``): also create or upgrade
            MLflow's tables in a PostgreSQL store, and train and register a champion when
            no model is found. It runs in a one-off process that never forks workers.

    Raises:
        PredictionStoreError: when the prediction log cannot be opened.
        ModelNotFoundError: when there is no model (and ``train_if_missing`` is false).
        DataError, TrackingError: when training was needed and failed.
    """
    from modelmedic import tracking

    store = open_store(settings)
    store.close()
    if train_if_missing:
        tracking.prepare_store(settings)
    trained = False
    try:
        if settings.model_uri:
            served_uri = settings.model_uri
            tracking.load_model(served_uri, settings)
            version = "-"
        else:
            served_uri, version = tracking.champion(settings)
    except ModelNotFoundError:
        if not train_if_missing or settings.model_uri:
            raise
        served_uri, version = train_champion(settings)
        trained = True
    return PreflightReport(masked(store.url), store.schema_version, served_uri, version, trained)


def train_champion(settings: Settings) -> tuple[str, str]:
    """Train the default model on the reference period and make it champion.

    Returns:
        ``(model_uri, version)`` of the new champion.

    Raises:
        DataError: when the bike data cannot be obtained.
        TrackingError: when the MLflow store refuses.
    """
    from modelmedic import tracking
    from modelmedic.data import load_dataset
    from modelmedic.training import data_source_label, train_and_register

    logger.warning("no model to serve: training one on the reference period")
    frame, schema = load_dataset(None, service_schema(), settings, progress=False)
    train_and_register(frame, schema, settings=settings, source=data_source_label(None, settings))
    return tracking.champion(settings)


def settings_environment(settings: Settings) -> dict[str, str]:
    """The ``MODELMEDIC_*`` variables that recreate ``settings`` in a child process."""
    values = {
        "MODELMEDIC_HOME": str(settings.home),
        "MODELMEDIC_TRACKING_URI": settings.tracking_uri,
        "MODELMEDIC_MODEL_URI": settings.model_uri,
        "MODELMEDIC_DATABASE_URL": settings.database_url,
        "MODELMEDIC_MODEL_NAME": settings.model_name,
        "MODELMEDIC_MAX_BATCH": str(settings.max_batch),
    }
    return {key: value for key, value in values.items() if value}


def run_server(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    """Serve with uvicorn until interrupted (``workers`` processes; 1 runs in this one)."""
    import os

    import uvicorn

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    if workers <= 1:
        from modelmedic.service.app import create_app

        uvicorn.run(create_app(settings), host=host, port=port, access_log=False)
        return
    os.environ.update(settings_environment(settings))
    uvicorn.run(
        "modelmedic.service.app:create_app", factory=True, host=host, port=port, workers=workers, access_log=False
    )
