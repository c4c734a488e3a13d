"""The tables of the prediction log.

- ``prediction_log``: one row per prediction (time, model version, features, prediction)
  and its label (``cnt``, ``labelled_at``) once ``/feedback`` brings it;
- ``label_corrections``: every label replaced by a later, different one (the replaced
  value and both times), so a correction never erases what was first said.

Alembic creates and upgrades them (:mod:`~modelmedic.service.log_migrations`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Index, MetaData, Table

    from modelmedic.schema import DatasetSchema

TABLE = "prediction_log"
CORRECTIONS_TABLE = "label_corrections"


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
    # lazy: SQLAlchemy only when a database is opened
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
