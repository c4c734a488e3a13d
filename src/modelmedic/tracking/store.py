"""Reaching the MLflow tracking store: configuring it, a client whose every call fails in
one line, bounded waits, existence checks that create nothing, and store failures told apart
("does not answer" from "refused").

MLflow's HTTP client waits 120 s a request and retries 7 times, and it retries a database
that does not answer for about 100 s: :func:`bound_http_waits` and
:func:`require_database_answers` bound both; :func:`configure` applies them.
"""

from __future__ import annotations

import functools
import os
import re
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelmedic.config import Settings, get_settings, is_postgres
from modelmedic.errors import ModelNotFoundError, TrackingError
from modelmedic.secrets import masked, masked_text

if TYPE_CHECKING:
    from mlflow import MlflowClient

# MLflow's HTTP client limits and the settings that give them modelmedic's defaults
_HTTP_LIMITS = {
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "tracking_timeout_seconds",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "tracking_max_retries",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "tracking_backoff_seconds",
}
# error codes with which a store says "no such model, version or alias"
NOT_FOUND_CODES = frozenset({"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"})
_HTTP_APPLIED: dict[str, str] = {}
_EXPORTED_VARS = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


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
    # lazy: mlflow takes about a second to import; commands that never reach a store skip it
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
    # lazy: MLflow's database store (and the artifact plugin importing mlflow) only for PostgreSQL
    from mlflow.store.db import utils as db_utils
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    # lazy: modelmedic.tracking.artifacts_db imports mlflow
    from modelmedic.tracking.artifacts_db import experiment_location

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


class TrackingClient:
    """An ``MlflowClient`` whose every call turns a store failure into the one-line
    :class:`TrackingError` (see :func:`store_errors`); attributes pass through unchanged.

    Attributes:
        mlflow_client: The wrapped client.
        settings: The settings naming its store (for the messages).
    """

    def __init__(self, mlflow_client: MlflowClient, settings: Settings) -> None:
        self.mlflow_client = mlflow_client
        self.settings = settings

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.mlflow_client, name)
        if not callable(found):
            return found

        @functools.wraps(found)
        def call(*args: Any, **kwargs: Any) -> Any:
            with store_errors(self.settings):
                return found(*args, **kwargs)

        return call


def client(settings: Settings | None = None, *, create: bool = True) -> TrackingClient:
    """Return a client of the configured store (see :func:`configure`) whose calls fail with
    a one-line :class:`TrackingError` (see :class:`TrackingClient`).

    Raises:
        ModelNotFoundError: with ``create=False``, when the default SQLite store does not exist
            (MLflow would create it on first use).
        TrackingError: when a database store does not answer.
    """
    # lazy: mlflow takes about a second to import; commands that never reach a store skip it
    from mlflow import MlflowClient

    settings = settings or get_settings()
    uri = configure(settings, create=create)
    if not create:
        require_store(settings)
    return TrackingClient(MlflowClient(tracking_uri=uri, registry_uri=uri), settings)


@contextmanager
def store_errors(settings: Settings | None = None) -> Iterator[None]:
    """Turn the MLflow store's failures inside the block into a one-line :class:`TrackingError`.

    A store that cannot be reached is reported as such ("does not answer"), a refusal
    with MLflow's reason; the store's URI is shown without its password. Other errors pass.

    Raises:
        TrackingError: when the store fails inside the block.
    """
    try:
        yield
    except TrackingError:
        raise
    except Exception as exc:
        error = store_error(exc, settings or get_settings())
        if error is None:
            raise
        raise error from None


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


def store_name(settings: Settings) -> str:
    """How messages name the tracking store: its masked URI, and ``DATABASE_URL`` when the
    store is the prediction log's database (no tracking URI configured)."""
    where = masked(settings.resolved_tracking_uri)
    if not settings.tracking_uri and settings.database_url and not settings.uses_default_store:
        return f"the MLflow tracking store in DATABASE_URL ({where})"
    return f"the MLflow tracking store at {where}"


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
    # lazy: SQLAlchemy only when a database is opened
    from sqlalchemy import create_engine

    engine = None
    try:
        engine = create_engine(uri, connect_args={"connect_timeout": settings.tracking_timeout_seconds})
        with engine.connect():
            pass
    except Exception as exc:
        reason = unreachable_reason(exc) or masked_text(str(exc).strip().splitlines()[0] if str(exc) else repr(exc))
        raise TrackingError(f"{store_name(settings)} does not answer: {reason}") from None
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


def store_error(exc: BaseException, settings: Settings) -> TrackingError | None:
    """The one-line :class:`TrackingError` for a failure of the MLflow store, else ``None``."""
    # lazy: MLflow's exception type, loaded when a store has failed
    from mlflow.exceptions import MlflowException

    where = store_name(settings)
    reason = unreachable_reason(exc)
    if reason is not None:
        return TrackingError(f"{where} does not answer: {reason}")
    if isinstance(exc, MlflowException):
        return TrackingError(f"{where} refused: {masked_text(exc.message)}")
    return None


def raise_if_unreachable(exc: BaseException, settings: Settings) -> None:
    """Raise the one-line :class:`TrackingError` when ``exc`` says the store does not answer
    (and return otherwise, for the caller to say what else went wrong).

    Raises:
        TrackingError: when ``exc`` is a failure to reach the store.
    """
    error = store_error(exc, settings) if unreachable_reason(exc) else None
    if error is not None:
        raise error from None


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
