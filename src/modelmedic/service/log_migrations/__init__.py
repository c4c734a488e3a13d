"""The prediction log's schema migrations, run by Alembic.

The revisions are in ``versions/``: ``0001`` creates ``prediction_log``, ``0002``
``label_corrections``, ``0003`` the indexes of the live aggregates (revision ``000n`` is
schema version ``n``). The revision applied is recorded in ``prediction_log_version``, a
table of its own: MLflow's store, which may share the database, keeps ``alembic_version``.

:func:`upgrade` runs inside the caller's write transaction, under a lock, so several
processes starting together (gunicorn workers, dynos) migrate once: SQLite's write lock
(``BEGIN IMMEDIATE``, taken by the caller's transaction) or a transaction-scoped advisory
lock on PostgreSQL. A log made before Alembic (its versions in ``modelmedic_schema_version``)
is adopted in place: stamped at the revision of its version, upgraded, the old table dropped.

The revisions build the tables of :func:`~modelmedic.service.log_schema.define_tables` (the
columns of the service's features), which :func:`upgrade` passes in
``Config.attributes["tables"]``. A new revision is the next file of ``versions/``: the next
number as ``revision``, the last one as ``down_revision``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Connection

    from modelmedic.service.log_schema import LogTables

VERSION_TABLE = "prediction_log_version"
LEGACY_VERSION_TABLE = "modelmedic_schema_version"
ADVISORY_LOCK_KEY = 0x6D6D_6C6F67  # "mmlog": serialises migrations on PostgreSQL
SCRIPTS = Path(__file__).parent


def alembic_config(conn: Connection, tables: LogTables) -> Config:
    """Alembic's configuration for the log on ``conn`` (no ``alembic.ini``: the scripts ship
    in this package)."""
    # lazy: alembic only when a log is opened
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    config.attributes.update(connection=conn, tables=tables)
    return config


def revision_number(revision: str | None) -> int:
    """The schema version of an Alembic revision of the log (``"0003"`` -> 3, none -> 0)."""
    return int(revision) if revision else 0


def current_version(conn: Connection) -> int | None:
    """The schema version of the log on ``conn``, read without writing anything.

    Returns:
        The version of the Alembic revision applied, else the version a log made before
        Alembic records, else ``None`` (no log in this database).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: when the database cannot be read.
    """
    # lazy: SQLAlchemy, like the rest of the log, only once a log is opened
    from sqlalchemy import inspect, text

    inspector = inspect(conn)
    if inspector.has_table(VERSION_TABLE):
        return revision_number(conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar())
    if inspector.has_table(LEGACY_VERSION_TABLE):
        return int(conn.execute(text(f"SELECT max(version) FROM {LEGACY_VERSION_TABLE}")).scalar() or 0)
    return None


def upgrade(conn: Connection, tables: LogTables, postgres: bool, revision: str = "head") -> int:
    """Bring the log on ``conn`` to ``revision`` in the caller's write transaction.

    Returns:
        The schema version after upgrading.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: when the database refuses.
    """
    # lazy: alembic only when a log is opened
    from alembic import command

    _lock(conn, postgres)
    config = alembic_config(conn, tables)
    _adopt_legacy(conn, config)
    command.upgrade(config, revision)
    return current_version(conn) or 0


def downgrade(conn: Connection, tables: LogTables, postgres: bool, revision: str) -> int:
    """Take the log on ``conn`` back to ``revision`` (``"base"``: no log) in the caller's
    write transaction.

    Returns:
        The schema version after downgrading.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: when the database refuses.
    """
    # lazy: alembic only when a log is opened
    from alembic import command

    _lock(conn, postgres)
    command.downgrade(alembic_config(conn, tables), revision)
    return current_version(conn) or 0


def _lock(conn: Connection, postgres: bool) -> None:
    """PostgreSQL: hold the migrations' advisory lock to the end of the transaction (SQLite's
    write transaction is the lock there)."""
    # lazy: SQLAlchemy only once a log is opened
    from sqlalchemy import text

    if postgres:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})


def _adopt_legacy(conn: Connection, config: Config) -> None:
    """Stamp a log made before Alembic at the revision of its version; drop its old table."""
    # lazy: alembic and SQLAlchemy only when a log is opened
    from alembic import command
    from sqlalchemy import inspect, text

    inspector = inspect(conn)
    if not inspector.has_table(LEGACY_VERSION_TABLE):
        return
    if not inspector.has_table(VERSION_TABLE):
        version = int(conn.execute(text(f"SELECT max(version) FROM {LEGACY_VERSION_TABLE}")).scalar() or 0)
        if version:
            command.stamp(config, f"{version:04d}")
    conn.execute(text(f"DROP TABLE {LEGACY_VERSION_TABLE}"))
