"""The prediction log: every prediction and every label the service receives, durably.

SQLAlchemy 2 Core over SQLite (WAL mode, ``synchronous=FULL``; the default, in the home
folder) or PostgreSQL (``DATABASE_URL``; Heroku's ``postgres://`` form is accepted). A
write returns only after its transaction committed, so an answered prediction survives a
SIGKILL of the server right after.

The schema is migrated on start by a small versioned migration table
(``modelmedic_schema_version``): each migration runs once, in order, under a lock
(``BEGIN IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL), so several workers
starting together migrate once.

:meth:`PredictionStore.read_frame` returns the log shaped like the data set (a
``DatetimeIndex`` of prediction times, the features, ``prediction`` and the target where
labelled), which is what the monitor and ``/monitoring/*`` read.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelmedic.schema import DatasetSchema, builtin_schema
from modelmedic.service.database import PredictionStoreError, masked, normalize_database_url

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy import Connection, Engine, Table

__all__ = ["PredictionStore", "PredictionStoreError", "masked", "normalize_database_url", "read_prediction_log"]

TABLE = "prediction_log"
VERSION_TABLE = "modelmedic_schema_version"
_ADVISORY_LOCK_KEY = 0x6D6D_6C6F67  # "mmlog": serialises migrations on PostgreSQL


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class PredictionStore:
    """The prediction log on SQLite or PostgreSQL.

    Args:
        url: A SQLAlchemy or Heroku database URL (see :func:`normalize_database_url`).
        feature_types: Feature name to ``int`` or ``float`` (the bike features by default).
        schema: The data set description used to shape :meth:`read_frame`.
        connect_timeout: Seconds to wait for a PostgreSQL server.
    """

    def __init__(
        self,
        url: str,
        feature_types: Mapping[str, type] | None = None,
        schema: DatasetSchema | None = None,
        connect_timeout: float = 5.0,
    ) -> None:
        from modelmedic.service.schemas import feature_column_types

        self.url = normalize_database_url(url, Path.cwd())
        self.feature_types = dict(feature_types or feature_column_types())
        self.schema = schema or builtin_schema("bike-hour")
        self.connect_timeout = connect_timeout
        self._engine: Engine | None = None
        self._thread_lock = threading.Lock()
        self._lock_file: Any = None
        self.schema_version = 0
        self.table: Table = self._define_table()

    @classmethod
    def from_settings(cls, settings: Any) -> PredictionStore:
        """The store named by ``settings.database_url`` (SQLite in the home folder by default)."""
        if not settings.database_url:
            settings.ensure_home()
        return cls(normalize_database_url(settings.database_url, settings.home))

    @property
    def is_sqlite(self) -> bool:
        """Whether the log is a SQLite file."""
        return self.url.startswith("sqlite")

    @contextmanager
    def _write_lock(self) -> Iterator[None]:
        """Serialise SQLite writers: threads by a lock, processes by ``flock`` on a side file.

        SQLite's own busy handler retries by sleeping (up to 100 ms a try), which gives
        writers from several workers a long latency tail; a kernel lock wakes the next
        writer as soon as the previous one committed. PostgreSQL needs none of this.
        """
        if not self.is_sqlite:
            yield
            return
        with self._thread_lock:
            try:
                import fcntl
            except ImportError:  # not POSIX: SQLite's busy handler alone
                yield
                return
            if self._lock_file is None:
                self._lock_file = open(f"{self.engine.url.database}.lock", "a+b")  # noqa: SIM115 - kept open
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)

    # -- schema ---------------------------------------------------------------------------

    def _define_table(self) -> Table:
        from sqlalchemy import Column, DateTime, Float, Index, Integer, MetaData, String, Table

        self.metadata = MetaData()
        sql_type = {int: Integer, float: Float}
        feature_columns = [Column(name, sql_type[kind](), nullable=False) for name, kind in self.feature_types.items()]
        table = Table(
            TABLE,
            self.metadata,
            Column("id", String(64), primary_key=True),
            Column("created_at", DateTime(), nullable=False),
            Column("model_version", String(64), nullable=False),
            *feature_columns,
            Column("prediction", Float(), nullable=False),
            Column("cnt", Float(), nullable=True),
            Column("labelled_at", DateTime(), nullable=True),
        )
        Index(f"ix_{TABLE}_created_at", table.c.created_at)
        return table

    def _migrations(self) -> list[Callable[[Connection], None]]:
        """Migrations in order; migration ``i`` brings the schema to version ``i + 1``."""

        def create_log(conn: Connection) -> None:
            self.table.create(conn, checkfirst=True)

        return [create_log]

    def migrate(self) -> int:
        """Apply pending migrations once (safe when several processes start together).

        Returns:
            The schema version after migrating.

        Raises:
            PredictionStoreError: when the database cannot be reached or refuses.
        """
        from sqlalchemy import Column, DateTime, Integer, MetaData, Table, func, insert, select, text
        from sqlalchemy.exc import SQLAlchemyError

        versions = Table(
            VERSION_TABLE,
            MetaData(),
            Column("version", Integer, primary_key=True),
            Column("applied_at", DateTime(), nullable=False),
        )
        migrations = self._migrations()
        try:
            with self.engine.begin() as conn:
                if not self.is_sqlite:
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
                versions.create(conn, checkfirst=True)
                current = conn.execute(select(func.max(versions.c.version))).scalar() or 0
                for number, migration in enumerate(migrations[current:], start=current + 1):
                    migration(conn)
                    conn.execute(insert(versions).values(version=number, applied_at=_utcnow()))
        except SQLAlchemyError as exc:
            raise PredictionStoreError(self._explain(exc)) from None
        self.schema_version = len(migrations)
        return self.schema_version

    # -- connection -----------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (created on first use)."""
        if self._engine is None:
            self._engine = self._create_engine()
        return self._engine

    def _create_engine(self) -> Engine:
        from sqlalchemy import create_engine, event

        if self.is_sqlite:
            engine = create_engine(self.url, connect_args={"check_same_thread": False, "timeout": 30})

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
                # Take the write lock at once: no deadlock upgrading a read lock later.
                conn.exec_driver_sql("BEGIN IMMEDIATE")

            return engine
        try:
            return create_engine(
                self.url,
                pool_pre_ping=True,
                pool_size=5,
                max_overflow=5,
                connect_args={"connect_timeout": max(1, int(self.connect_timeout))},
            )
        except Exception as exc:  # unknown dialect, missing driver, malformed URL
            raise PredictionStoreError(f"cannot use DATABASE_URL {masked(self.url)}: {exc}") from None

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
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return True
        except Exception:
            return False

    def close(self) -> None:
        """Release every pooled connection."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    # -- writes ---------------------------------------------------------------------------

    def log_predictions(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert prediction rows in one transaction; return once it is committed.

        Each row holds ``id``, ``created_at``, ``model_version``, the features and
        ``prediction``.

        Raises:
            PredictionStoreError: when the write fails (nothing of ``rows`` is stored).
        """
        from sqlalchemy.exc import SQLAlchemyError

        if not rows:
            return
        try:
            with self._write_lock(), self.engine.begin() as conn:
                conn.execute(self.table.insert(), list(rows))
        except SQLAlchemyError as exc:
            raise PredictionStoreError(self._explain(exc)) from None

    def record_feedback(self, labels: Mapping[str, float]) -> tuple[int, list[str]]:
        """Store the actual target of earlier predictions (``id -> cnt``) in one transaction.

        Returns:
            ``(accepted, unknown)``: how many ids were labelled and the ids not in the log
            (for which nothing is stored), in the order given.

        Raises:
            PredictionStoreError: when the write fails.
        """
        from sqlalchemy import bindparam, select, update
        from sqlalchemy.exc import SQLAlchemyError

        if not labels:
            return 0, []
        ids = list(labels)
        now = _utcnow()
        try:
            with self._write_lock(), self.engine.begin() as conn:
                known = set(conn.execute(select(self.table.c.id).where(self.table.c.id.in_(ids))).scalars())
                if known:
                    statement = (
                        update(self.table)
                        .where(self.table.c.id == bindparam("label_id"))
                        .values(cnt=bindparam("label_cnt"), labelled_at=now)
                    )
                    conn.execute(statement, [{"label_id": i, "label_cnt": float(labels[i])} for i in ids if i in known])
        except SQLAlchemyError as exc:
            raise PredictionStoreError(self._explain(exc)) from None
        return len(known), [i for i in ids if i not in known]

    # -- reads ----------------------------------------------------------------------------

    def count(self) -> int:
        """Number of predictions in the log."""
        from sqlalchemy import func, select

        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(self.table)).scalar() or 0)

    def ids(self) -> set[str]:
        """Every prediction id in the log."""
        from sqlalchemy import select

        with self.engine.connect() as conn:
            return set(conn.execute(select(self.table.c.id)).scalars())

    def read_frame(
        self, since: dt.datetime | str | None = None, until: dt.datetime | str | None = None
    ) -> pd.DataFrame:
        """The logged predictions with ``since <= time < until``, shaped like the data set.

        Returns:
            A DataFrame with a sorted ``DatetimeIndex`` named ``datetime`` (prediction time,
            UTC), the feature columns (categorical ones as pandas ``category``), the
            prediction column, the target (NaN where no label arrived), ``model_version``
            and ``id``.

        Raises:
            PredictionStoreError: when the database cannot be read.
        """
        import pandas as pd
        from sqlalchemy import select
        from sqlalchemy.exc import SQLAlchemyError

        t = self.table
        columns = ["created_at", *self.feature_types, "prediction", "cnt", "model_version", "id"]
        query = select(*(t.c[c] for c in columns)).order_by(t.c.created_at, t.c.id)
        if since is not None:
            query = query.where(t.c.created_at >= _naive_utc(since))
        if until is not None:
            query = query.where(t.c.created_at < _naive_utc(until))
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
        except SQLAlchemyError as exc:
            raise PredictionStoreError(self._explain(exc)) from None
        frame = pd.DataFrame.from_records(rows, columns=columns)
        frame.index = pd.DatetimeIndex(pd.to_datetime(frame.pop("created_at")), name="datetime")
        for name, kind in self.feature_types.items():
            frame[name] = frame[name].astype("int64" if kind is int else "float64")
        frame["prediction"] = frame["prediction"].astype("float64")
        frame["cnt"] = frame["cnt"].astype("float64")
        frame = frame.rename(columns={"prediction": self.schema.prediction, "cnt": self.schema.target})
        for col in self.schema.categorical:
            if col in frame:
                frame[col] = frame[col].astype("category")
        return frame


def _naive_utc(value: dt.datetime | str) -> dt.datetime:
    """A naive UTC datetime (as stored) from an aware/naive datetime or an ISO string."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is not None:
        try:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        except OverflowError:  # within a day of year 1 or 9999: the edge of time is as good
            value = dt.datetime.min if value.year == dt.MINYEAR else dt.datetime.max
    return value


def read_prediction_log(
    database_url: str, since: dt.datetime | str | None = None, until: dt.datetime | str | None = None
) -> pd.DataFrame:
    """Read the service's prediction log at ``database_url`` as a data set frame.

    This is the data source of ``modelmedic monitor --source DATABASE_URL``.

    Raises:
        PredictionStoreError: when the database cannot be reached or holds no log.
    """
    from sqlalchemy import inspect

    store = PredictionStore(database_url)
    try:
        if not inspect(store.engine).has_table(TABLE):
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
