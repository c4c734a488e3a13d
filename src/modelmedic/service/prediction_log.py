"""The prediction log: every prediction and every label the service receives, durably.

SQLAlchemy 2 Core over SQLite (WAL mode, ``synchronous=FULL``; the default, in the home
folder) or PostgreSQL (``DATABASE_URL``; Heroku's ``postgres://`` form is accepted). A
write returns only after its transaction committed, so an answered prediction survives a
SIGKILL of the server right after.

Reads and writes use two engines. Writes (and migrations) take SQLite's write lock at
once (``BEGIN IMMEDIATE``); reads open deferred transactions (``BEGIN``), so in WAL mode a
long monitoring read never holds up a prediction being logged. On PostgreSQL every
connection of the service carries a connect timeout, TCP keepalives and a statement
timeout, the pool waits a bounded time, and a write commits only if it can still do so
before its deadline (:class:`PredictionStoreTimeout` otherwise: nothing was stored).

The schema is migrated on start by Alembic (:mod:`~modelmedic.service.log_migrations`):
under a lock, so several workers starting together migrate once.

:meth:`PredictionStore.read_frame` returns the log shaped like the data set, which is
what ``modelmedic monitor`` reads; ``/monitoring/*`` read database aggregates instead
(:mod:`~modelmedic.service.log_aggregates`).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, func, inspect, select, update
from sqlalchemy.exc import SQLAlchemyError

from modelmedic.schema import DatasetSchema, builtin_schema
from modelmedic.service.database import (
    LabelOutcome,
    PredictionStoreError,
    PredictionStoreTimeout,
    Timeouts,
    WriterLock,
    create_log_engine,
    masked,
    normalize_database_url,
)
from modelmedic.service.log_frame import log_columns, log_frame
from modelmedic.service.log_migrations import upgrade
from modelmedic.service.log_schema import TABLE, define_tables, naive_utc
from modelmedic.service.schemas import feature_column_types

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy import Connection, Engine, Table

__all__ = [
    "TABLE",
    "LabelOutcome",
    "PredictionStore",
    "PredictionStoreError",
    "PredictionStoreTimeout",
    "masked",
    "normalize_database_url",
    "read_prediction_log",
]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class PredictionStore:
    """The prediction log on SQLite or PostgreSQL.

    Args:
        url: A SQLAlchemy or Heroku database URL (see :func:`normalize_database_url`).
        feature_types: Feature name to ``int`` or ``float`` (the bike features by default).
        schema: The data set description used to shape :meth:`read_frame`.
        timeouts: How long a write (and a read, on PostgreSQL) may take.
    """

    def __init__(
        self,
        url: str,
        feature_types: Mapping[str, type] | None = None,
        schema: DatasetSchema | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:

        self.url = normalize_database_url(url, Path.cwd())
        self.feature_types = dict(feature_types or feature_column_types())
        self.schema = schema or builtin_schema("bike-hour")
        self.timeouts = timeouts or Timeouts()
        self._engines: dict[bool, Engine] = {}  # writer? -> engine
        self._write_lock = WriterLock(self.url)
        self.schema_version = 0
        self.tables = define_tables(self.feature_types, self.schema)
        self.table: Table = self.tables.predictions
        self.corrections: Table = self.tables.corrections

    @classmethod
    def from_settings(cls, settings: Any) -> PredictionStore:
        """The store named by ``settings.database_url`` (SQLite in the home folder by default),
        with the settings' database timeouts."""
        if not settings.database_url:
            settings.ensure_home()
        timeouts = Timeouts(write=settings.db_timeout_seconds, read=settings.db_read_timeout_seconds)
        return cls(normalize_database_url(settings.database_url, settings.home), timeouts=timeouts)

    @property
    def is_sqlite(self) -> bool:
        """Whether the log is a SQLite file."""
        return self.url.startswith("sqlite")

    # -- schema ---------------------------------------------------------------------------

    def migrate(self) -> int:
        """Apply pending migrations once (safe when several processes start together).

        Returns:
            The schema version after migrating.

        Raises:
            PredictionStoreError: when the database cannot be reached or refuses.
        """
        try:
            with self.engine.begin() as conn:
                self.schema_version = upgrade(conn, self.tables, postgres=not self.is_sqlite)
        except SQLAlchemyError as exc:
            raise PredictionStoreError(self._explain(exc)) from None
        return self.schema_version

    # -- connection -----------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """The engine of writes and migrations (created on first use).

        Raises:
            PredictionStoreError: when the URL names an unknown dialect or a missing driver.
        """
        return self._engine_for(writer=True)

    @property
    def read_engine(self) -> Engine:
        """The engine of reads: deferred transactions on SQLite, the read timeout on PostgreSQL.

        Raises:
            PredictionStoreError: when the URL names an unknown dialect or a missing driver.
        """
        return self._engine_for(writer=False)

    def _engine_for(self, writer: bool) -> Engine:
        if writer not in self._engines:
            self._engines[writer] = create_log_engine(self.url, self.timeouts, writer=writer)
        return self._engines[writer]

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection in one read transaction: every query sees the same snapshot.

        On SQLite in WAL mode it takes no lock a writer waits for; on PostgreSQL it is
        ``REPEATABLE READ, READ ONLY``.

        Raises:
            PredictionStoreError: when the database cannot be read.
        """
        try:
            with self.read_engine.connect() as conn:
                if not self.is_sqlite:
                    conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
                with conn.begin():
                    yield conn
        except SQLAlchemyError as exc:
            raise PredictionStoreError(self._explain(exc)) from None

    @contextmanager
    def _writing(self, deadline: float | None) -> Iterator[Connection]:
        """A write transaction that commits only before ``deadline`` (``time.monotonic()``).

        Raises:
            PredictionStoreTimeout: when the deadline passed before the commit (rolled back).
            PredictionStoreError: when the write fails (rolled back).
        """

        def expired() -> bool:
            return deadline is not None and time.monotonic() >= deadline

        try:
            with self._write_lock.held(), self.engine.connect() as conn:
                if expired():
                    raise PredictionStoreTimeout(self.timeout_message())
                with conn.begin() as transaction:
                    yield conn
                    if expired():  # never commit what the caller was told is not stored
                        transaction.rollback()
                        raise PredictionStoreTimeout(self.timeout_message())
        except SQLAlchemyError as exc:
            raise PredictionStoreError(self._explain(exc)) from None

    def timeout_message(self) -> str:
        """What a caller is told when a write missed its deadline."""
        return (
            f"the prediction log at {masked(self.url)} did not answer within "
            f"{self.timeouts.write:g} s (MODELMEDIC_DB_TIMEOUT_SECONDS): nothing was stored"
        )

    def _explain(self, exc: Exception) -> str:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        first = reason[0] if reason else type(exc).__name__
        return (
            f"the prediction log at {masked(self.url)} cannot be used ({first}): "
            "check DATABASE_URL and that the database server is running"
        )

    def open(self) -> PredictionStore:
        """Connect and migrate; return ``self``.

        Raises:
            PredictionStoreError: when the database cannot be reached (e.g. a wrong
                ``DATABASE_URL``), with a message naming the URL without its password.
        """
        if self.is_sqlite:
            Path(self.engine.url.database or ".").parent.mkdir(parents=True, exist_ok=True)
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except Exception as exc:
            raise PredictionStoreError(self._explain(exc)) from None
        self.migrate()
        return self

    def ping(self) -> bool:
        """Whether the database answers a trivial query now."""
        try:
            with self.read_engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return True
        except Exception:
            return False

    def close(self) -> None:
        """Release every pooled connection."""
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()
        self._write_lock.close()

    # -- writes ---------------------------------------------------------------------------

    def log_predictions(self, rows: Sequence[Mapping[str, Any]], deadline: float | None = None) -> None:
        """Insert prediction rows in one transaction; return once it is committed.

        Each row holds ``id``, ``created_at``, ``model_version``, the features and
        ``prediction``.

        Args:
            rows: The predictions.
            deadline: ``time.monotonic()`` after which the transaction must not commit.

        Raises:
            PredictionStoreTimeout: when the deadline passed first (nothing stored).
            PredictionStoreError: when the write fails (nothing of ``rows`` is stored).
        """
        if not rows:
            return
        with self._writing(deadline) as conn:
            conn.execute(self.table.insert(), list(rows))

    def forget_predictions(self, ids: Sequence[str]) -> None:
        """Delete the predictions ``ids`` (a commit that landed after its caller gave up).

        Raises:
            PredictionStoreError: when the delete fails.
        """
        if ids:
            with self._writing(None) as conn:
                conn.execute(self.table.delete().where(self.table.c.id.in_(list(ids))))

    def record_feedback(self, labels: Mapping[str, float], deadline: float | None = None) -> LabelOutcome:
        """Store the actual target of earlier predictions (``id -> cnt``) in one transaction.

        A label for a prediction labelled before with another value is a correction: the
        log holds the new value, and the table ``label_corrections`` keeps the replaced
        one with both times. The same value sent again changes nothing.

        Args:
            labels: Prediction id to its actual target.
            deadline: ``time.monotonic()`` after which the transaction must not commit.

        Returns:
            A :class:`LabelOutcome` (labelled, unknown and corrected ids).

        Raises:
            PredictionStoreTimeout: when the deadline passed first (nothing stored).
            PredictionStoreError: when the write fails.
        """
        if not labels:
            return LabelOutcome(0, [], [])
        ids = list(labels)
        now = _utcnow()
        t = self.table
        with self._writing(deadline) as conn:
            query = select(t.c.id, t.c.cnt, t.c.labelled_at).where(t.c.id.in_(ids))
            known = {row.id: row for row in conn.execute(query)}
            changed = [i for i in ids if i in known and known[i].cnt != float(labels[i])]
            corrected = [i for i in changed if known[i].cnt is not None]
            if corrected:
                conn.execute(
                    self.corrections.insert(),
                    [
                        {
                            "prediction_id": i,
                            "previous_cnt": known[i].cnt,
                            "previous_labelled_at": known[i].labelled_at,
                            "cnt": float(labels[i]),
                            "labelled_at": now,
                        }
                        for i in corrected
                    ],
                )
            if changed:
                statement = (
                    update(t).where(t.c.id == bindparam("label_id")).values(cnt=bindparam("label_cnt"), labelled_at=now)
                )
                conn.execute(statement, [{"label_id": i, "label_cnt": float(labels[i])} for i in changed])
        return LabelOutcome(len(known), [i for i in ids if i not in known], corrected)

    # -- reads ----------------------------------------------------------------------------

    def count(self) -> int:
        """Number of predictions in the log."""
        with self.reading() as conn:
            return int(conn.execute(select(func.count()).select_from(self.table)).scalar() or 0)

    def ids(self) -> set[str]:
        """Every prediction id in the log."""
        with self.reading() as conn:
            return set(conn.execute(select(self.table.c.id)).scalars())

    def read_frame(
        self, since: dt.datetime | str | None = None, until: dt.datetime | str | None = None
    ) -> pd.DataFrame:
        """The logged predictions with ``since <= time < until``, shaped like the data set.

        Returns:
            The frame of :func:`~modelmedic.service.log_frame.log_frame`, sorted by time.

        Raises:
            PredictionStoreError: when the database cannot be read.
        """
        t = self.table
        columns = log_columns(self.feature_types)
        query = select(*(t.c[c] for c in columns)).order_by(t.c.created_at, t.c.id)
        if since is not None:
            query = query.where(t.c.created_at >= naive_utc(since))
        if until is not None:
            query = query.where(t.c.created_at < naive_utc(until))
        with self.reading() as conn:
            rows = conn.execute(query).all()
        return log_frame(rows, self.feature_types, self.schema)


def read_prediction_log(
    database_url: str, since: dt.datetime | str | None = None, until: dt.datetime | str | None = None
) -> pd.DataFrame:
    """Read the service's prediction log at ``database_url`` as a data set frame.

    This is the data source of ``modelmedic monitor --source DATABASE_URL``.

    Raises:
        PredictionStoreError: when the database cannot be reached or holds no log.
    """
    store = PredictionStore(database_url, timeouts=Timeouts(read=None))  # a batch job: reads unbounded
    try:
        if not inspect(store.read_engine).has_table(TABLE):
            raise PredictionStoreError(
                f"{masked(store.url)} holds no prediction log: start 'modelmedic serve' on it first"
            )
        return store.read_frame(since, until)
    except PredictionStoreError:
        raise
    except Exception as exc:
        raise PredictionStoreError(store._explain(exc)) from None
    finally:
        store.close()
