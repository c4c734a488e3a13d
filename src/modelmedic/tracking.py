"""Everything MLflow: the store, experiments, batched logging, models and the registry.

Logging goes through :func:`log_values` / :func:`log_series`, which send a run's values in
as few ``log_batch`` calls as MLflow's limits allow (call-by-call logging is an order of
magnitude slower, over HTTP even more).
"""

from __future__ import annotations

import os
import re
import socket
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from modelmedic.config import Settings, get_settings
from modelmedic.errors import ModelNotFoundError, TrackingError
from modelmedic.secrets import masked, masked_text

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient

CHAMPION = "champion"
_EXPORTED_VARS = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
# MLflow's HTTP client limits and the settings that give them modelmedic's defaults
_HTTP_LIMITS = {
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "tracking_timeout_seconds",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "tracking_max_retries",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "tracking_backoff_seconds",
}
# error codes with which a store says "no such model, version or alias"
_NOT_FOUND_CODES = frozenset({"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"})
# MLflow's limits for one log_batch call
_MAX_METRICS, _MAX_PARAMS, _MAX_TAGS, _MAX_ENTITIES = 1000, 100, 100, 1000
_KEY_BAD = re.compile(r"[^0-9A-Za-z_\-. /:]")
# Model classes we trust when MLflow saves scikit-learn models with skops.
_TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.")
_TRUSTED_EXACT = frozenset({"functools.partial"})  # scikit-learn's gradient boosting holds one


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

    With no ``MLFLOW_TRACKING_URI`` the store is ``mlflow.db`` in the home folder, which
    is created here (not at import). Requests to a tracking server get bounded waits
    (:func:`bound_http_waits`).

    Args:
        settings: The settings naming the store.
        create: Create the default store when missing (false for checks, which must not
            create what they check: see :func:`require_store`).

    Raises:
        TrackingError: when a database store does not answer.
    """
    import mlflow

    settings = settings or get_settings()
    if create and not settings.tracking_uri:
        settings.ensure_home()
        _write_ahead_log(settings.default_store)
    bound_http_waits(settings)
    require_database_answers(settings)
    uri = settings.resolved_tracking_uri
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


_HTTP_APPLIED: dict[str, str] = {}


def bound_http_waits(settings: Settings) -> dict[str, str]:
    """Give MLflow's HTTP client modelmedic's timeout, retries and back-off.

    MLflow reads them from ``MLFLOW_HTTP_REQUEST_TIMEOUT``, ``_MAX_RETRIES`` and
    ``_BACKOFF_FACTOR`` (its defaults wait minutes for a server that does not answer); a
    value the user set in the environment is kept. Returns the values in force.
    """
    for var, field_name in _HTTP_LIMITS.items():
        current = os.environ.get(var)
        if current is not None and current != _HTTP_APPLIED.get(var):
            continue  # the user's own value
        _HTTP_APPLIED[var] = os.environ[var] = str(getattr(settings, field_name))
    return {var: os.environ[var] for var in _HTTP_LIMITS}


def _connection_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is a failure to reach a server (not a refusal, not a missing file)."""
    if isinstance(exc, ConnectionError | TimeoutError | socket.gaierror):
        return True
    library = library_of(exc)
    if library in {"requests", "urllib3"}:  # their connection, timeout and retry errors
        return True
    return library == "sqlalchemy" and type(exc).__name__ in {"OperationalError", "InterfaceError"}


_ANSWERED: set[str] = set()
_SERVER_DATABASES = ("postgresql", "mysql")


def require_database_answers(settings: Settings) -> None:
    """Check once per process that a database tracking store (PostgreSQL, MySQL) answers
    within ``tracking_timeout_seconds``.

    MLflow itself retries a database that does not answer for about 100 s, logging each try.

    Raises:
        TrackingError: when the database does not answer.
    """
    uri = settings.resolved_tracking_uri
    if uri in _ANSWERED or not uri.startswith(_SERVER_DATABASES):
        return
    from sqlalchemy import create_engine

    engine = None
    try:
        engine = create_engine(uri, connect_args={"connect_timeout": settings.tracking_timeout_seconds})
        with engine.connect():
            pass
    except Exception as exc:
        reason = unreachable_reason(exc) or masked_text(str(exc).strip().splitlines()[0] if str(exc) else repr(exc))
        raise TrackingError(f"the MLflow tracking store at {masked(uri)} does not answer: {reason}") from None
    finally:
        if engine is not None:
            engine.dispose()
    _ANSWERED.add(uri)


def sqlite_store_path(uri: str) -> Path | None:
    """The file of a ``sqlite:///`` store URI (``None`` for other stores or in-memory)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri.removeprefix("sqlite:///").split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def require_store(settings: Settings) -> None:
    """Check, without creating anything, that a SQLite tracking store exists.

    Raises:
        ModelNotFoundError: when the store's file does not exist.
    """
    path = sqlite_store_path(settings.resolved_tracking_uri)
    if path is not None and not path.is_file():
        raise ModelNotFoundError(
            f"the MLflow store {masked(settings.resolved_tracking_uri)} does not exist: run 'modelmedic train' first"
        )


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


def client(settings: Settings | None = None, *, create: bool = True) -> MlflowClient:
    """Return an ``MlflowClient`` on the configured store (see :func:`configure`)."""
    from mlflow import MlflowClient

    uri = configure(settings, create=create)
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


def store_error(exc: BaseException, settings: Settings) -> TrackingError | None:
    """The one-line :class:`TrackingError` for a failure of the MLflow store, else ``None``."""
    from mlflow.exceptions import MlflowException

    where = masked(settings.resolved_tracking_uri)
    reason = unreachable_reason(exc)
    if reason is not None:
        return TrackingError(f"the MLflow tracking store at {where} does not answer: {reason}")
    if isinstance(exc, MlflowException):
        return TrackingError(f"the MLflow tracking store at {where} refused: {masked_text(exc.message)}")
    return None


def unreachable_reason(exc: BaseException) -> str | None:
    """Why the store did not answer, when ``exc`` (or what caused it) is a network or
    database connection failure; ``None`` for other errors."""
    failure: BaseException | None = None
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in chain:
        chain.append(seen)
        if _connection_failure(seen):
            failure = seen
        seen = seen.__cause__ or seen.__context__
    if failure is None:
        return None
    # requests wraps urllib3's MaxRetryError, whose ``reason`` is the last attempt's failure
    while failure.args and isinstance(failure.args[0], BaseException):
        failure = failure.args[0]
    failure = getattr(failure, "reason", None) or failure
    text = str(getattr(failure, "orig", None) or failure).strip().splitlines() or [type(failure).__name__]
    first = text[0]
    if "): " in first:  # "HTTPConnection(host=..., port=...): Failed to establish ...: [Errno 111] ..."
        first = first.split("): ", 1)[1]
    first = re.sub(r"\[Errno -?\d+\] ", "", first)
    if not any(library_of(e) in {"requests", "urllib3"} for e in chain):  # not MLflow's HTTP client
        return masked_text(first)
    limits = {var: os.environ.get(var) for var in _HTTP_LIMITS}
    tries = int(limits["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] or 0) + 1
    return masked_text(f"{first} ({tries} tries of {limits['MLFLOW_HTTP_REQUEST_TIMEOUT']} s at most)")


def library_of(exc: BaseException) -> str:
    """The top-level package that defines the type of ``exc`` (``requests``, ``sqlalchemy``...)."""
    return type(exc).__module__.split(".")[0]


def experiment_id(name: str, settings: Settings | None = None) -> str:
    """Return the id of experiment ``name``, creating it if needed (safe to repeat).

    Experiments created in the default local store keep their artifacts in the home folder.

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
        location = None if settings.tracking_uri else settings.artifact_root.as_uri()
        try:
            return mlflow_client.create_experiment(name, artifact_location=location)
        except MlflowException:  # created meanwhile by another process
            found = mlflow_client.get_experiment_by_name(name)
            if found is None:
                raise
            return found.experiment_id


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


def trusted_types(model: Any) -> list[str]:
    """The types skops must be told to trust to save ``model``.

    Only classes from scikit-learn, numpy and scipy are trusted; MLflow saves
    scikit-learn models with skops, which refuses tree models unless told.

    Raises:
        TrackingError: when the model holds a type from elsewhere (save it another way).
    """
    import skops.io

    untrusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    foreign = [t for t in untrusted if not t.startswith(_TRUSTED_PREFIXES) and t not in _TRUSTED_EXACT]
    if foreign:
        raise TrackingError(f"the model holds types modelmedic does not trust for skops: {', '.join(foreign)}")
    return list(untrusted)


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


def set_alias(name: str, alias: str, version: str, settings: Settings | None = None) -> None:
    """Point registry ``alias`` of model ``name`` at ``version``."""
    client(settings).set_registered_model_alias(name, alias, version)


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
            if unreachable_reason(exc) is not None or exc.error_code not in _NOT_FOUND_CODES:
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
