"""The tables of the prediction log and their versioned migrations.

- ``prediction_log``: one row per prediction (time, model version, features, prediction)
  and its label (``cnt``, ``labelled_at``) once ``/feedback`` brings it;
- ``label_corrections``: every label replaced by a later, different one (the replaced
  value and both times), so a correction never erases what was first said;
- ``modelmedic_schema_version``: the migrations applied.

Each migration runs once, in order, inside the caller's write transaction (``BEGIN
IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL), so several workers starting
together migrate once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Connection, Index, MetaData, Table

    from modelmedic.schema import DatasetSchema

TABLE = "prediction_log"
CORRECTIONS_TABLE = "label_corrections"
VERSION_TABLE = "modelmedic_schema_version"
ADVISORY_LOCK_KEY = 0x6D6D_6C6F67  # "mmlog": serialises migrations on PostgreSQL


@dataclass(frozen=True)
class LogTables:
    """The log's tables.

    Attributes:
        metadata: Their SQLAlchemy metadata.
        predictions: ``prediction_log``.
        corrections: ``label_corrections``.
        aggregate_indexes: ``(column, created_at)`` indexes of the columns the live
            monitoring counts by value: ``GROUP BY column`` over a time window reads one
            covering index in order instead of sorting the table (~0.1 s a column at a
            million rows on SQLite); ``(created_at, cnt, prediction)`` for the error sums
            and the hourly counts.
    """

    metadata: MetaData
    predictions: Table
    corrections: Table
    aggregate_indexes: list[Index]


def define_tables(feature_types: Mapping[str, type], schema: DatasetSchema) -> LogTables:
    """The log's tables for features of ``feature_types`` (name to ``int`` or ``float``)."""
    from sqlalchemy import Column, DateTime, Float, Index, Integer, MetaData, String, Table

    metadata = MetaData()
    sql_type = {int: Integer, float: Float}
    feature_columns = [Column(name, sql_type[kind](), nullable=False) for name, kind in feature_types.items()]
    table = Table(
        TABLE,
        metadata,
        Column("id", String(64), primary_key=True),
        Column("created_at", DateTime(), nullable=False),
        Column("model_version", String(64), nullable=False),
        *feature_columns,
        Column("prediction", Float(), nullable=False),
        Column("cnt", Float(), nullable=True),
        Column("labelled_at", DateTime(), nullable=True),
    )
    Index(f"ix_{TABLE}_created_at", table.c.created_at)
    counted = [c for c in (*schema.numerical, *schema.categorical) if c in table.c]
    indexes = [Index(f"ix_{TABLE}_{c}_time", table.c[c], table.c.created_at) for c in [*counted, "model_version"]]
    indexes.append(Index(f"ix_{TABLE}_time_labels", table.c.created_at, table.c.cnt, table.c.prediction))
    corrections = Table(
        CORRECTIONS_TABLE,
        metadata,
        Column("number", Integer, primary_key=True, autoincrement=True),
        Column("prediction_id", String(64), nullable=False, index=True),
        Column("previous_cnt", Float(), nullable=False),
        Column("previous_labelled_at", DateTime(), nullable=True),
        Column("cnt", Float(), nullable=False),
        Column("labelled_at", DateTime(), nullable=False),
    )
    return LogTables(metadata, table, corrections, indexes)


def migrations(tables: LogTables) -> list[Callable[[Connection], Any]]:
    """Migrations in order; migration ``i`` brings the schema to version ``i + 1``."""

    def create_log(conn: Connection) -> None:
        tables.predictions.create(conn, checkfirst=True)

    def create_corrections(conn: Connection) -> None:
        tables.corrections.create(conn, checkfirst=True)

    def index_aggregated_columns(conn: Connection) -> None:
        for index in tables.aggregate_indexes:
            index.create(conn, checkfirst=True)

    return [create_log, create_corrections, index_aggregated_columns]


def migrate_schema(conn: Connection, tables: LogTables, postgres: bool) -> int:
    """Apply the pending migrations in the write transaction of ``conn``; return the version.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: when the database refuses.
    """
    from sqlalchemy import Column, DateTime, Integer, MetaData, Table, func, insert, select, text

    versions = Table(
        VERSION_TABLE,
        MetaData(),
        Column("version", Integer, primary_key=True),
        Column("applied_at", DateTime(), nullable=False),
    )
    steps = migrations(tables)
    if postgres:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    versions.create(conn, checkfirst=True)
    current = conn.execute(select(func.max(versions.c.version))).scalar() or 0
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for number, migration in enumerate(steps[current:], start=current + 1):
        migration(conn)
        conn.execute(insert(versions).values(version=number, applied_at=now))
    return len(steps)


def naive_utc(value: dt.datetime | str | None) -> dt.datetime | None:
    """A naive UTC datetime (as stored) from an aware/naive datetime or an ISO string."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is not None:
        try:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        except OverflowError:  # within a day of year 1 or 9999: the edge of time is as good
            value = dt.datetime.min if value.year == dt.MINYEAR else dt.datetime.max
    return value
