"""MLflow artifacts (model files, reports) kept in a SQL database: the ``modelmedic-db:`` scheme.

A Heroku app has a PostgreSQL database and a disk that every dyno loses; MLflow's own
tables can live in the database, its artifacts by default cannot. This module is an MLflow
artifact-repository plugin (entry point group ``mlflow.artifact_repository`` in
``pyproject.toml``) that stores each artifact file as rows of one table,
``modelmedic_artifacts (path, chunk, data)``, 1 MiB of bytes per row.

An artifact URI names only a place inside that table, such as
``modelmedic-db:/bike-demand/<run id>/artifacts``: no host, no path, no password. The
database is found when the repository is used, the first of:

1. the tracking URI MLflow hands the plugin, when it is a SQL database;
2. the tracking URI set in this process (:func:`modelmedic.tracking.configure` sets it);
3. modelmedic's resolved tracking URI (``MODELMEDIC_TRACKING_URI``, ``MLFLOW_TRACKING_URI``
   or a PostgreSQL ``DATABASE_URL``: see :attr:`modelmedic.config.Settings.resolved_tracking_uri`),
   when it is a SQL database.

So a web dyno, a one-off ``heroku run`` and ``mlflow server`` on a laptop all read the same
files as long as they see the same ``DATABASE_URL``. Reads never create the table; the first
write does (safe when several processes race to).
"""

from __future__ import annotations

import os
import posixpath
import threading
from collections.abc import Iterator
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import quote

from mlflow.entities import FileInfo
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST
from mlflow.store.artifact.artifact_repo import ArtifactRepository

from modelmedic.config import Settings, sqlalchemy_url

if TYPE_CHECKING:
    from sqlalchemy import Engine, Table

SCHEME = "modelmedic-db"
TABLE = "modelmedic_artifacts"
CHUNK_BYTES = 1 << 20
_SQL_SCHEMES = ("postgres", "postgresql", "sqlite", "mysql", "mssql")

_ENGINES: dict[tuple[int, str], Engine] = {}
_TABLES_READY: set[str] = set()
_LOCK = threading.Lock()


def is_database_uri(uri: str | None) -> bool:
    """Whether ``uri`` names a SQL database MLflow's SQLAlchemy store (and this plugin) can use."""
    if not uri or ":" not in uri:
        return False
    return uri.split(":", 1)[0].split("+", 1)[0] in _SQL_SCHEMES


def experiment_location(experiment: str) -> str:
    """The artifact location of ``experiment`` in the database: ``modelmedic-db:/<name>``.

    Example:
        >>> experiment_location("bike-demand")
        'modelmedic-db:/bike-demand'
    """
    return f"{SCHEME}:/{quote(experiment, safe='')}"


def artifact_key(uri: str) -> str:
    """The table path of artifact ``uri`` (``modelmedic-db:/a/b`` -> ``a/b``).

    Raises:
        MlflowException: when ``uri`` is not a ``modelmedic-db:`` URI.
    """
    scheme, sep, rest = uri.partition(":")
    if not sep or scheme != SCHEME:
        raise MlflowException(f"not a {SCHEME}: artifact URI: {uri}")
    return posixpath.normpath("/" + rest.lstrip("/")).lstrip("/").rstrip("/")


def artifact_database(tracking_uri: str | None = None) -> str:
    """The SQLAlchemy URL of the database holding the artifacts (see the module's docstring).

    Raises:
        MlflowException: when neither MLflow nor modelmedic's settings name a SQL database.
    """
    # lazy: MLflow's record of the URI set in this process, read when a repository opens
    from mlflow.tracking._tracking_service import utils as tracking_utils

    candidates = [tracking_uri]
    if tracking_utils.is_tracking_uri_set():  # modelmedic.tracking.configure() sets it
        candidates.append(tracking_utils.get_tracking_uri())
    candidates.append(Settings().resolved_tracking_uri)
    for uri in candidates:
        if is_database_uri(uri):
            return sqlalchemy_url(str(uri))
    raise MlflowException(
        f"{SCHEME}: artifacts live in the tracking database: set DATABASE_URL (PostgreSQL) "
        "or MODELMEDIC_TRACKING_URI to it"
    )


def _engine(url: str) -> Engine:
    """One engine per database and process, keeping no connection open between uses:
    artifacts are read when a model loads, rarely, and an idle pooled connection would be
    inherited by forked workers and count against the database's connection limit."""
    # lazy: SQLAlchemy only when a database is opened
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    key = (os.getpid(), url)
    with _LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            engine = _ENGINES[key] = create_engine(url, poolclass=NullPool)
    return engine


@lru_cache(maxsize=1)
def artifacts_table() -> Table:
    """The ``modelmedic_artifacts`` table: one row per file chunk, ``(path, chunk)`` unique."""
    # lazy: SQLAlchemy only when a database is opened
    from sqlalchemy import Column, Integer, LargeBinary, MetaData, String, Table

    return Table(
        TABLE,
        MetaData(),
        Column("path", String(1024), primary_key=True),
        Column("chunk", Integer, primary_key=True),
        Column("data", LargeBinary, nullable=False),
    )


def _table_exists(engine: Engine, url: str, *, cached: bool = True) -> bool:
    # lazy: SQLAlchemy only when a database is opened
    from sqlalchemy import inspect as sql_inspect

    if cached and url in _TABLES_READY:
        return True
    if sql_inspect(engine).has_table(TABLE):
        _TABLES_READY.add(url)
        return True
    return False


def _create_table(engine: Engine, url: str) -> None:
    """Create the table unless it exists; another process winning the race to it is fine."""
    # lazy: SQLAlchemy only when a database is opened
    from sqlalchemy.exc import DBAPIError

    if _table_exists(engine, url):
        return
    try:
        artifacts_table().create(engine, checkfirst=True)
    except DBAPIError:
        if not _table_exists(engine, url, cached=False):
            raise
    _TABLES_READY.add(url)


class DatabaseArtifactRepository(ArtifactRepository):
    """MLflow artifact repository for ``modelmedic-db:`` URIs (see the module's docstring)."""

    is_plugin = True

    def __init__(self, artifact_uri: str, tracking_uri: str | None = None, registry_uri: str | None = None) -> None:
        super().__init__(artifact_uri, tracking_uri=tracking_uri, registry_uri=registry_uri)
        self.root = artifact_key(artifact_uri)
        self.database = artifact_database(tracking_uri)

    # -- paths ---------------------------------------------------------------------------
    def _key(self, artifact_path: str | None) -> str:
        if not artifact_path:
            return self.root
        return posixpath.normpath(posixpath.join(self.root, artifact_path.strip("/")))

    @property
    def _engine(self) -> Engine:
        return _engine(self.database)

    # -- writes --------------------------------------------------------------------------
    def _store_file(self, local_file: str, key: str) -> None:
        table = artifacts_table()
        engine = self._engine
        _create_table(engine, self.database)
        with engine.begin() as conn, open(local_file, "rb") as source:
            conn.execute(table.delete().where(table.c.path == key))
            chunk = 0
            while True:
                data = source.read(CHUNK_BYTES)
                if not data and chunk > 0:
                    break
                conn.execute(table.insert().values(path=key, chunk=chunk, data=data))
                chunk += 1
                if len(data) < CHUNK_BYTES:
                    break

    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        """Store ``local_file`` under ``artifact_path`` (replacing a file of the same name)."""
        self._store_file(local_file, posixpath.join(self._key(artifact_path), os.path.basename(local_file)))

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        """Store every file under ``local_dir`` below ``artifact_path``."""
        base = self._key(artifact_path)
        for folder, _dirs, files in os.walk(local_dir):
            relative = os.path.relpath(folder, local_dir)
            for name in files:
                parts = [base] if relative == "." else [base, *relative.split(os.sep)]
                self._store_file(os.path.join(folder, name), posixpath.join(*parts, name))

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        """Delete the file or the folder (recursively) at ``artifact_path``."""
        table = artifacts_table()
        key = self._key(artifact_path)
        if not _table_exists(self._engine, self.database):
            return
        with self._engine.begin() as conn:
            conn.execute(
                table.delete().where((table.c.path == key) | table.c.path.startswith(key + "/", autoescape=True))
            )

    # -- reads ---------------------------------------------------------------------------
    def _sizes_under(self, key: str) -> Iterator[tuple[str, int]]:
        """``(path, size)`` of every file whose path starts with ``key/``."""
        # lazy: SQLAlchemy only when a database is opened
        from sqlalchemy import func, select

        table = artifacts_table()
        if not _table_exists(self._engine, self.database):
            return
        query = (
            select(table.c.path, func.sum(func.length(table.c.data)))
            .where(table.c.path.startswith(key + "/", autoescape=True))
            .group_by(table.c.path)
        )
        with self._engine.connect() as conn:
            yield from ((str(path), int(size or 0)) for path, size in conn.execute(query))

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        """The files and folders directly under ``path`` (``[]`` for a file or nothing)."""
        key = self._key(path)
        children: dict[str, FileInfo] = {}
        for stored, size in self._sizes_under(key):
            name, _sep, deeper = stored[len(key) + 1 :].partition("/")
            relative = posixpath.join(path, name) if path else name
            if deeper:
                children.setdefault(name, FileInfo(relative, True, None))
            else:
                children[name] = FileInfo(relative, False, size)
        return [children[name] for name in sorted(children)]

    def _download_file(self, remote_file_path: str, local_path: str) -> None:
        """Write the stored file ``remote_file_path`` to ``local_path``.

        Raises:
            MlflowException: ``RESOURCE_DOES_NOT_EXIST`` when no such file is stored.
        """
        # lazy: SQLAlchemy only when a database is opened
        from sqlalchemy import select

        table = artifacts_table()
        key = self._key(remote_file_path)
        found = False
        if _table_exists(self._engine, self.database):
            query = select(table.c.data).where(table.c.path == key).order_by(table.c.chunk)
            with self._engine.connect() as conn, open(local_path, "wb") as target:
                for (data,) in conn.execute(query):
                    target.write(data)
                    found = True
        if not found:
            if os.path.exists(local_path):
                os.remove(local_path)
            raise MlflowException(
                f"no artifact {remote_file_path} in {self.artifact_uri}", error_code=RESOURCE_DOES_NOT_EXIST
            )
