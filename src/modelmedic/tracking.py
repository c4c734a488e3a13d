"""Everything MLflow: the store, experiments, batched logging, models and the registry.

Logging goes through :func:`log_values` / :func:`log_series`, which send a run's values in
as few ``log_batch`` calls as MLflow's limits allow (call-by-call logging is an order of
magnitude slower, over HTTP even more).
"""

from __future__ import annotations

import os
import re
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from modelmedic.config import Settings, get_settings, is_postgres
from modelmedic.errors import ModelNotFoundError, TrackingError
from modelmedic.model_trust import load_skops, trusted_types
from modelmedic.secrets import masked, masked_text
from modelmedic.tracking_store import (
    NOT_FOUND_CODES,
    bound_http_waits,
    require_database_answers,
    require_store,
    store_error,
    unreachable_reason,
)

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient

CHAMPION = "champion"
_EXPORTED_VARS = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
# MLflow's limits for one log_batch call
_MAX_METRICS, _MAX_PARAMS, _MAX_TAGS, _MAX_ENTITIES = 1000, 100, 100, 1000
_KEY_BAD = re.compile(r"[^0-9A-Za-z_\-. /:]")
# Model classes we trust when MLflow saves scikit-learn models with skops.


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


def metric_key(*parts: str) -> str:
    """Join ``parts`` with ``/`` into a valid MLflow key (other characters become ``_``)."""
    return "/".join(_KEY_BAD.sub("_", str(p)) for p in parts if p != "")


def configure(settings: Settings | None = None, *, create: bool = True) -> str:
    """Point MLflow at the configured store and return its URI.

    With neither ``MLFLOW_TRACKING_URI`` nor a PostgreSQL ``DATABASE_URL`` the store is
    ``mlflow.db`` in the home folder, which is created here (not at import). Requests to a
    tracking server get bounded waits (:func:`bound_http_waits`).

    Args:
        settings: The settings naming the store.
        create: Create the default store when missing (false for checks, which must not
            create what they check: see :func:`require_store`).

    Raises:
        TrackingError: when a database store does not answer.
    """
    import mlflow

    settings = settings or get_settings()
    if create and settings.uses_default_store:
        settings.ensure_home()
        _write_ahead_log(settings.default_store)
    bound_http_waits(settings)
    require_database_answers(settings)
    uri = settings.resolved_tracking_uri
    if is_postgres(uri):
        # No connection outlives its use: gunicorn forks workers after its master looked the
        # champion up (a pooled connection inherited by two processes breaks both), and
        # Heroku's small PostgreSQL plans allow 20 connections for every dyno and job together.
        os.environ.setdefault("MLFLOW_SQLALCHEMYSTORE_POOLCLASS", "NullPool")
    exported = {var: os.environ.get(var) for var in _EXPORTED_VARS}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    # MLflow exports the URIs to the environment for its subprocesses; undo that, or every
    # Settings() built later in this process would take them for the user's configuration.
    for var, value in exported.items():
        if value is None:
            os.environ.pop(var, None)
        else:
            os.environ[var] = value
    return uri


_WAL_DONE: set[str] = set()


def _write_ahead_log(database: Path) -> None:
    """Put the default sqlite store in write-ahead-log mode (once per file and process).

    The mode is kept in the file: writes commit faster (one sync instead of a rollback
    journal's several) and ``modelmedic ui`` can read while a job writes. Only the store
    modelmedic creates in its home folder is changed; a store the user names is left as is.
    """
    import sqlite3

    key = str(database.resolve())
    if key in _WAL_DONE:
        return
    try:
        with closing(sqlite3.connect(key, timeout=30)) as connection:
            if connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                connection.execute("PRAGMA journal_mode=WAL")
    except sqlite3.Error:
        return  # e.g. a file system without shared memory: MLflow works in the default mode
    _WAL_DONE.add(key)


def prepare_store(settings: Settings | None = None) -> bool:
    """Create or upgrade MLflow's tables in a PostgreSQL store; the release phase runs it
    alone, before any dyno starts, so dynos never race to migrate.

    MLflow would create the tables at first use anyway; doing it here also gives its
    ``Default`` experiment a ``modelmedic-db:`` artifact location instead of the folder the
    process happened to run in, and upgrades the schema after an MLflow upgrade (which a
    dyno would otherwise refuse to start on: "out-of-date database schema").

    Returns:
        ``True`` when the store is PostgreSQL and was prepared, ``False`` for other stores.

    Raises:
        TrackingError: when the database cannot be reached or refuses.
    """
    from mlflow.store.db import utils as db_utils
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    from modelmedic.artifacts_db import experiment_location

    settings = settings or get_settings()
    uri = settings.resolved_tracking_uri
    if not is_postgres(uri):
        return False
    with store_errors(settings):
        engine = db_utils.create_sqlalchemy_engine_with_retry(uri)
        try:
            latest = db_utils._get_latest_schema_revision()
            if db_utils._all_tables_exist(engine) and db_utils._get_schema_version(engine) != latest:
                db_utils._upgrade_db(engine)
        finally:
            engine.dispose()
        # a fresh database: MLflow's migrations, then its Default experiment
        SqlAlchemyStore(uri, experiment_location("Default")).engine.dispose()
    return True


def client(settings: Settings | None = None, *, create: bool = True) -> MlflowClient:
    """Return an ``MlflowClient`` on the configured store (see :func:`configure`).

    Raises:
        ModelNotFoundError: with ``create=False``, when the default SQLite store does not exist
            (MLflow would create it on first use).
        TrackingError: when a database store does not answer.
    """
    from mlflow import MlflowClient

    uri = configure(settings, create=create)
    if not create:
        require_store(settings or get_settings())
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@contextmanager
def store_errors(settings: Settings) -> Iterator[None]:
    """Turn the MLflow store's failures inside the block into a one-line :class:`TrackingError`.

    A store that cannot be reached is reported as such ("does not answer"), a refusal
    with MLflow's reason; the store's URI is shown without its password.
    """
    try:
        yield
    except TrackingError:
        raise
    except Exception as exc:
        error = store_error(exc, settings)
        if error is None:
            raise
        raise error from None


def experiment_id(name: str, settings: Settings | None = None) -> str:
    """Return the id of experiment ``name``, creating it if needed (safe to repeat).

    Experiments created in the default local store keep their artifacts in the home folder;
    in a PostgreSQL store (Heroku's ``DATABASE_URL``) they keep them in the same database
    (``modelmedic-db:/<name>``, see :mod:`modelmedic.artifacts_db`), so no dyno's disk holds them.

    Raises:
        TrackingError: when the store cannot be reached.
    """
    from mlflow.exceptions import MlflowException

    settings = settings or get_settings()
    mlflow_client = client(settings)
    with store_errors(settings):
        found = mlflow_client.get_experiment_by_name(name)
        if found is not None:
            if found.lifecycle_stage == "deleted":
                mlflow_client.restore_experiment(found.experiment_id)
            return found.experiment_id
        location = artifact_location(name, settings)
        try:
            return mlflow_client.create_experiment(name, artifact_location=location)
        except MlflowException:  # created meanwhile by another process
            found = mlflow_client.get_experiment_by_name(name)
            if found is None:
                raise
            return found.experiment_id


def artifact_location(experiment: str, settings: Settings) -> str | None:
    """Where a new experiment keeps its artifacts: the home folder for the default store,
    the tracking database itself for a PostgreSQL store, MLflow's choice otherwise."""
    if settings.uses_default_store:
        return settings.artifact_root.as_uri()
    if is_postgres(settings.resolved_tracking_uri):
        from modelmedic.artifacts_db import experiment_location

        return experiment_location(experiment)
    return None


def log_values(
    mlflow_client: MlflowClient,
    run_id: str,
    metrics: Mapping[str, float] | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    *,
    step: int = 0,
    timestamp_ms: int | None = None,
) -> None:
    """Log a run's metrics, params and tags in as few ``log_batch`` calls as possible.

    NaN and infinite metrics are skipped (MLflow stores them, but charts break on them).
    """
    series = [(step, timestamp_ms, metrics or {})]
    log_series(mlflow_client, run_id, series, params=params, tags=tags)


def log_series(
    mlflow_client: MlflowClient,
    run_id: str,
    series: Iterable[tuple[int, int | None, Mapping[str, float]]],
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
) -> None:
    """Log metric series (``(step, timestamp_ms, {key: value})`` per point) in batches."""
    import math

    from mlflow.entities import Metric, Param, RunTag

    now = int(time.time() * 1000)
    metric_list = [
        Metric(key, float(value), ts if ts is not None else now, step)
        for step, ts, values in series
        for key, value in values.items()
        if value is not None and math.isfinite(float(value))
    ]
    param_list = [Param(k, str(v)[:6000]) for k, v in (params or {}).items()]
    tag_list = [RunTag(k, str(v)) for k, v in (tags or {}).items()]
    while metric_list or param_list or tag_list:
        p, param_list = param_list[:_MAX_PARAMS], param_list[_MAX_PARAMS:]
        t, tag_list = tag_list[:_MAX_TAGS], tag_list[_MAX_TAGS:]
        room = min(_MAX_METRICS, _MAX_ENTITIES - len(p) - len(t))
        m, metric_list = metric_list[:room], metric_list[room:]
        mlflow_client.log_batch(run_id, metrics=m, params=p, tags=t)


def log_model(model: Any, input_example: pd.DataFrame, name: str = "model") -> Any:
    """Log a scikit-learn ``model`` to the active run with signature and input example.

    Returns the ``ModelInfo``; the model is saved with skops (the safe format), trusting
    exactly the scikit-learn/numpy types it holds.
    """
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    example = input_example.head(5)
    with warnings.catch_warnings():
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


def register(
    model_uri: str,
    name: str,
    alias: str | None = CHAMPION,
    settings: Settings | None = None,
    tags: Mapping[str, str] | None = None,
) -> str:
    """Register ``model_uri`` as a new version of ``name`` and point ``alias`` at it.

    Returns the new version number (as a string).
    """
    import mlflow

    configure(settings)
    version = mlflow.register_model(model_uri, name, tags=dict(tags or {}))
    if alias:
        client(settings).set_registered_model_alias(name, alias, version.version)
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
    from mlflow.exceptions import MlflowException

    settings = settings or get_settings()
    name = name or settings.model_name
    if not create:
        require_store(settings)
    with store_errors(settings):
        mlflow_client = client(settings, create=create)
        try:
            version = mlflow_client.get_model_version_by_alias(name, CHAMPION)
        except MlflowException as exc:
            if unreachable_reason(exc) is not None or exc.error_code not in NOT_FOUND_CODES:
                raise
            raise ModelNotFoundError(
                f"no '{CHAMPION}' model named '{name}' in {masked(settings.resolved_tracking_uri)}: "
                "run 'modelmedic train' first"
            ) from None
    return f"models:/{name}@{CHAMPION}", str(version.version)


def load_model(model_uri: str, settings: Settings | None = None, *, create: bool = True) -> Any:
    """Load a scikit-learn model from any MLflow model URI or local path.

    Raises:
        ModelNotFoundError: when nothing loads from ``model_uri``.
    """
    import mlflow.sklearn
    from mlflow.exceptions import MlflowException

    if not create and model_uri.startswith(("models:/", "runs:/")):
        require_store(settings or get_settings())
    configure(settings, create=create)
    try:
        return mlflow.sklearn.load_model(model_uri)
    except (MlflowException, OSError) as exc:
        error = store_error(exc, settings or get_settings()) if unreachable_reason(exc) else None
        if error is not None:
            raise error from None
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
    """
    import tempfile

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
            error = store_error(exc, settings) if unreachable_reason(exc) else None
            if error is not None:
                raise error from None
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
    import pandas as pd

    return TrustedModel(model, example if isinstance(example, pd.DataFrame) else None)
