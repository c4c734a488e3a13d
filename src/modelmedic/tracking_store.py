"""Reaching the MLflow tracking store: bounded waits, existence checks that create
nothing, and store failures told apart ("does not answer" from "refused") in one line.

MLflow's HTTP client waits 120 s a request and retries 7 times, and it retries a database
that does not answer for about 100 s: :func:`bound_http_waits` and
:func:`require_database_answers` bound both. Part of the one door to MLflow with
:mod:`modelmedic.tracking`, which calls these when it configures the store.
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

from modelmedic.config import Settings
from modelmedic.errors import ModelNotFoundError, TrackingError
from modelmedic.secrets import masked, masked_text

# MLflow's HTTP client limits and the settings that give them modelmedic's defaults
_HTTP_LIMITS = {
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "tracking_timeout_seconds",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "tracking_max_retries",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "tracking_backoff_seconds",
}
# error codes with which a store says "no such model, version or alias"
NOT_FOUND_CODES = frozenset({"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"})
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
    from mlflow.exceptions import MlflowException

    where = store_name(settings)
    reason = unreachable_reason(exc)
    if reason is not None:
        return TrackingError(f"{where} does not answer: {reason}")
    if isinstance(exc, MlflowException):
        return TrackingError(f"{where} refused: {masked_text(exc.message)}")
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
