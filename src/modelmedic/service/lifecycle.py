"""Start-up work shared by the app, ``modelmedic serve`` and the Procfile's processes.

:func:`preflight` is what runs before a server takes traffic: open (and migrate) the
prediction log, then find the model (optionally training one when none exists, which is
the Procfile's release phase). Each step fails with a one-line
:class:`~modelmedic.errors.ModelmedicError`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from modelmedic import tracking
from modelmedic.config import Settings
from modelmedic.data import load_dataset
from modelmedic.errors import ModelNotFoundError
from modelmedic.secrets import masked, masked_text
from modelmedic.service.app import create_app
from modelmedic.service.database import PredictionStoreError, normalize_database_url
from modelmedic.service.loading import open_store
from modelmedic.service.log_migrations import current_version
from modelmedic.service.predictor import load_served_model
from modelmedic.service.schemas import FEATURE_NAMES, service_schema
from modelmedic.training import data_source_label, train_and_register

logger = logging.getLogger("modelmedic.service")


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
    store = open_store(settings)
    store.close()
    if train_if_missing:
        tracking.prepare_store(settings)
    trained = False
    try:
        if settings.model_uri:
            served_uri = settings.model_uri
            tracking.load_trusted_model(served_uri, settings)
            version = "-"
        else:
            served_uri, version = tracking.champion(settings)
    except ModelNotFoundError:
        if not train_if_missing or settings.model_uri:
            raise
        served_uri, version = train_champion(settings)
        trained = True
    return PreflightReport(masked(store.url), store.schema_version, masked(served_uri), version, trained)


def check(settings: Settings) -> PreflightReport:
    """What ``modelmedic serve --check`` reports: the prediction log and the model, found
    without creating, migrating or training anything (a check leaves no trace).

    Raises:
        PredictionStoreError: when the prediction log does not exist or cannot be read.
        ModelNotFoundError: when there is no model (or no MLflow store holding one).
        TrackingError: when the MLflow tracking store does not answer.
    """
    if not settings.model_uri:
        tracking.champion(settings, create=False)  # the store and its champion exist
    # the model itself, loaded as a worker loads it (trusted format) and proved
    served = load_served_model(settings, service_schema(), FEATURE_NAMES)
    served_uri, version = served.uri, "-" if settings.model_uri else served.version
    url = normalize_database_url(settings.database_url, settings.home)
    schema_version = existing_log_version(url)
    return PreflightReport(masked(url), schema_version, masked(served_uri), version, trained=False)


def existing_log_version(url: str) -> int:
    """The schema version of the prediction log at ``url``, read without creating anything.

    Raises:
        PredictionStoreError: when the database or its log does not exist or cannot be read.
    """
    # lazy: SQLAlchemy only when a database is opened
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    prepare = "run 'modelmedic serve --prepare' (or start the service) to create it"
    engine_url = make_url(url)
    options: dict[str, object] = {}
    if engine_url.get_backend_name() == "sqlite":
        path = Path(engine_url.database or "")
        if not path.is_file():
            raise PredictionStoreError(f"the prediction log {masked(url)} does not exist: {prepare}")
        # read-only; without a write-ahead log (no writer is active) also immutable, or
        # SQLite would create the log's side files to read a database in WAL mode
        flags = "mode=ro" if Path(f"{path}-wal").exists() else "mode=ro&immutable=1"
        engine_url = engine_url.set(database=f"file:{path.resolve()}?{flags}", query={"uri": "true"})
    else:
        options["connect_args"] = {"connect_timeout": 5}
    engine = None
    try:
        engine = create_engine(engine_url, **options)
        with engine.connect() as conn:
            version = current_version(conn)
        if version is None:
            raise PredictionStoreError(f"the prediction log {masked(url)} holds no log yet: {prepare}")
        return version
    except PredictionStoreError:
        raise
    except Exception as exc:
        reason = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]
        raise PredictionStoreError(
            f"the prediction log at {masked(url)} cannot be read ({masked_text(reason)}): "
            "check DATABASE_URL and that the database server is running"
        ) from None
    finally:
        if engine is not None:
            engine.dispose()


def train_champion(settings: Settings) -> tuple[str, str]:
    """Train the default model on the reference period and make it champion.

    Returns:
        ``(model_uri, version)`` of the new champion.

    Raises:
        DataError: when the bike data cannot be obtained.
        TrackingError: when the MLflow store refuses.
    """
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
    # lazy: the web stack only in the service
    import uvicorn

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    if workers <= 1:
        uvicorn.run(create_app(settings), host=host, port=port, access_log=False)
        return
    os.environ.update(settings_environment(settings))
    uvicorn.run(
        "modelmedic.service.app:create_app", factory=True, host=host, port=port, workers=workers, access_log=False
    )
