"""Database URLs of the prediction log and the error it raises.

Heroku hands out ``postgres://`` URLs; SQLAlchemy wants a dialect and driver
(``postgresql+psycopg://``). Messages show URLs without their password.
:func:`create_log_engine` builds the engines of the log with their bounds.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelmedic.config import sqlalchemy_url
from modelmedic.errors import ModelmedicError
from modelmedic.secrets import masked

__all__ = [
    "LabelOutcome",
    "PredictionStoreError",
    "PredictionStoreTimeout",
    "Timeouts",
    "WriterLock",
    "create_log_engine",
    "masked",
    "normalize_database_url",
]

if TYPE_CHECKING:
    from sqlalchemy import Engine


class PredictionStoreError(ModelmedicError):
    """The prediction log cannot be reached or refused a write."""


class PredictionStoreTimeout(PredictionStoreError):
    """A write could not finish before its deadline; it was rolled back (nothing stored)."""


@dataclass(frozen=True)
class LabelOutcome:
    """What :meth:`PredictionStore.record_feedback` did.

    Attributes:
        accepted: How many of the ids are in the log (labelled, or already so).
        unknown: Ids not in the log (nothing stored for them), in the order given.
        corrected: Ids whose earlier, different label was replaced (kept in
            ``label_corrections``).
    """

    accepted: int
    unknown: list[str]
    corrected: list[str]


class WriterLock:
    """Serialises SQLite writers: threads by a lock, processes by ``flock`` on a side file.

    SQLite's own busy handler retries by sleeping (up to 100 ms a try), which gives
    writers from several workers a long latency tail; a kernel lock wakes the next
    writer as soon as the previous one committed. PostgreSQL needs none of this.
    """

    def __init__(self, url: str) -> None:
        # lazy: SQLAlchemy only when a database is opened
        from sqlalchemy.engine import make_url

        self.path = f"{make_url(url).database}.lock" if url.startswith("sqlite") else None
        self._thread_lock = threading.Lock()
        self._file: Any = None

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the lock for the block (no-op on PostgreSQL)."""
        if self.path is None:
            yield
            return
        with self._thread_lock:
            try:
                # lazy: optional, guarded by ImportError
                import fcntl
            except ImportError:  # not POSIX: SQLite's busy handler alone
                yield
                return
            if self._file is None:
                self._file = open(self.path, "a+b")  # noqa: SIM115 - kept open
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the side file."""
        if self._file is not None:
            self._file.close()
            self._file = None


def normalize_database_url(url: str | None, home: Path) -> str:
    """Return the SQLAlchemy URL of the prediction log.

    ``None`` means SQLite at ``home/predictions.db``; ``postgres://`` and ``postgresql://``
    (Heroku's forms) become ``postgresql+psycopg://`` (psycopg 3 is the driver installed).
    """
    if not url:
        return f"sqlite:///{(Path(home) / 'predictions.db').resolve()}"
    return sqlalchemy_url(url)


@dataclass(frozen=True)
class Timeouts:
    """How long the prediction log may make a caller wait.

    Attributes:
        write: Seconds a write may take from the moment it is asked for: PostgreSQL's
            connect and statement timeout and the pool's wait are this long, and a write
            commits only before this deadline.
        read: Statement timeout of reads on PostgreSQL (``None``: unbounded, for batch jobs).
        keepalive_idle: Seconds of silence before TCP keepalive probes start (PostgreSQL).
    """

    write: float = 5.0
    read: float | None = 30.0
    keepalive_idle: int = 10


def create_log_engine(url: str, timeouts: Timeouts, writer: bool) -> Engine:
    """A SQLAlchemy engine on the prediction log at ``url``.

    SQLite: WAL, ``synchronous=FULL``; transactions of a writer engine start with
    ``BEGIN IMMEDIATE`` (the write lock at once, no deadlock upgrading a read lock),
    a reader's with a deferred ``BEGIN`` (a snapshot; WAL readers never block the writer).
    PostgreSQL: connect timeout, statement timeout (the write or the read bound), TCP
    keepalives and a bounded wait for a pooled connection.

    Raises:
        PredictionStoreError: when the URL names an unknown dialect or a missing driver.
    """
    # lazy: SQLAlchemy only when a database is opened
    from sqlalchemy import create_engine, event

    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        begin = "BEGIN IMMEDIATE" if writer else "BEGIN"

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" event open transactions (pysqlite's own are lazy).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")  # a commit is on disk when it returns
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql(begin)

        return engine
    statement = timeouts.write if writer else timeouts.read
    options = f"-c statement_timeout={int(statement * 1000)}" if statement else ""
    wait = max(1, math.ceil(timeouts.write))
    try:
        return create_engine(
            url,
            pool_pre_ping=True,
            pool_size=5,
            max_overflow=5,
            pool_timeout=wait,
            connect_args={
                "connect_timeout": wait,
                "options": options,
                "keepalives": 1,
                "keepalives_idle": timeouts.keepalive_idle,
                "keepalives_interval": 2,
                "keepalives_count": 3,
                "tcp_user_timeout": int(timeouts.write * 1000),
            },
        )
    except Exception as exc:  # unknown dialect, missing driver, malformed URL
        raise PredictionStoreError(f"cannot use DATABASE_URL {masked(url)}: {exc}") from None
