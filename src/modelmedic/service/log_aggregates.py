"""What the live monitoring needs from the prediction log, aggregated by the database.

``/monitoring/*`` and the dashboard never load the log into the web process. They ask the
database for small aggregates of a time window, in SQL that SQLite and PostgreSQL share:

- **drift**: per column, each distinct value and how often it occurs (``GROUP BY value``,
  served by a ``(column, created_at)`` index). That is exactly the summary the ``fast``
  engine tests (:class:`~modelmedic.drift.stats.NumericStats` /
  :class:`~modelmedic.drift.stats.CategoryStats`): K-S, Wasserstein, chi-square and the
  binned tests give the numbers they give on the rows themselves. A column with more
  than ``max_distinct`` distinct values in the window is summarised from a uniform sample
  of about ``max_distinct`` rows instead (rows whose random id sorts below a bound): the
  memory stays bounded, the test is then the one of that sample;
- **performance**: sums of the error, absolute error, squared error, relative error and
  of the target's squared deviation from its mean (a second pass), from which MAE, RMSE,
  MAPE, bias and R² follow as :func:`modelmedic.performance.regression_metrics` computes
  them;
- **traffic**: predictions and labels per hour, the model versions seen.

Memory is bounded by the number of distinct values of a column (and ``max_distinct``),
never by the number of rows.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from modelmedic.drift.stats import CategoryStats, ColumnStats, NumericStats, StatsSource
from modelmedic.performance import METRICS

if TYPE_CHECKING:
    from sqlalchemy import Connection, Table

    from modelmedic.service.prediction_log import PredictionStore

ID_SPACE = 16**8  # prediction ids are random hex: their first 8 digits are uniform
MAX_READERS = 4  # columns summarised at once, each on its own connection


@dataclass(frozen=True)
class Window:
    """A period of the log: ``since <= created_at < until`` (naive UTC; ``None``: open)."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def clauses(self, table: Table, by_value: str | None = None) -> list[Any]:
        """The SQL conditions selecting the window's rows of ``table``.

        Args:
            table: The log's table.
            by_value: The dialect name when the query groups by a column's value. On
                SQLite the time then stays out of the planner's index choice (``+created_at``),
                so it scans the ``(column, created_at)`` index in order instead of
                ranging over the time index and sorting (0.4 s instead of 2.5 s a column
                at a million rows).
        """
        # lazy: SQLAlchemy only when a database is opened
        from sqlalchemy import DateTime, literal_column

        time = table.c.created_at
        if by_value == "sqlite":
            time = literal_column(f"+{table.name}.created_at", DateTime())
        where = []
        if self.since is not None:
            where.append(time >= self.since)
        if self.until is not None:
            where.append(time < self.until)
        return where


def count_rows(conn: Connection, table: Table, window: Window) -> int:
    """Rows of ``table`` in ``window``."""
    # lazy: SQLAlchemy only when a database is opened
    from sqlalchemy import func, select

    return int(conn.execute(select(func.count()).select_from(table).where(*window.clauses(table))).scalar() or 0)


def value_counts(
    conn: Connection, table: Table, column: str, window: Window, limit: int, where: Sequence[Any] = ()
) -> tuple[list[Any], np.ndarray]:
    """The distinct non-null values of ``column`` in ``window`` (sorted) and their counts,
    at most ``limit`` groups (NULL, if present, is one of them)."""
    # lazy: SQLAlchemy only when a database is opened
    from sqlalchemy import func, select

    col = table.c[column]
    query = (
        select(col, func.count())
        .where(*window.clauses(table, by_value=conn.dialect.name), *where)
        .group_by(col)
        .order_by(col)
        .limit(limit)
    )
    rows = [r for r in conn.execute(query) if r[0] is not None]  # NULLs dropped here: cheaper than in SQL
    return [r[0] for r in rows], np.array([r[1] for r in rows], dtype=np.int64)


def column_summary(
    conn: Connection, table: Table, column: str, numerical: bool, integer: bool, window: Window, max_distinct: int
) -> ColumnStats:
    """The ``fast`` engine's summary of ``column`` over ``window``, from the database.

    Beyond ``max_distinct`` distinct values, the summary of a uniform sample of about
    ``max_distinct`` rows (see the module's description).
    """
    values, counts = value_counts(conn, table, column, window, max_distinct + 1)
    if len(values) > max_distinct:
        rows = count_rows(conn, table, window)
        bound = format(min(ID_SPACE - 1, math.ceil(ID_SPACE * max_distinct / max(rows, 1))), "08x")
        values, counts = value_counts(conn, table, column, window, max_distinct, [table.c.id < bound])
    if not numerical:
        return CategoryStats(tuple(values), counts)
    array = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(array)
    if not finite.all():
        array, counts = array[finite], counts[finite]
    if counts.size == 0 or bool(np.all(counts == 1)):
        return NumericStats.all_distinct(array, integer)
    return NumericStats(array, counts, integer)


def window_stats(
    store: PredictionStore,
    numerical: Sequence[str],
    categorical: Sequence[str],
    window: Window,
    max_distinct: int,
) -> StatsSource:
    """The ``fast`` engine's column summaries of ``window``, columns read in parallel.

    Each column is one ``GROUP BY`` on its own connection (SQLite and PostgreSQL run them
    on several cores); give ``window`` an ``until`` so that every column sees the same rows
    while predictions keep arriving.

    Raises:
        PredictionStoreError: when the log cannot be read.
    """
    table = store.table
    columns = [*numerical, *categorical]

    def summarise(column: str) -> ColumnStats:
        integer = store.feature_types.get(column) is int
        with store.reading() as conn:
            return column_summary(conn, table, column, column in numerical, integer, window, max_distinct)

    with store.reading() as conn:
        rows = count_rows(conn, table, window)
    workers = max(1, min(len(columns), os.cpu_count() or 1, MAX_READERS))
    with ThreadPoolExecutor(workers) as pool:
        summaries = dict(zip(columns, pool.map(summarise, columns), strict=True))
    return StatsSource(columns, summaries.__getitem__, rows)


def error_metrics(conn: Connection, table: Table, window: Window) -> tuple[int, dict[str, float]]:
    """``(labelled rows, {mae, rmse, mape, bias, r2})`` of the labelled rows in ``window``,
    as :func:`modelmedic.performance.regression_metrics` defines them (NaN where undefined)."""
    # lazy: SQLAlchemy only when a database is opened
    from sqlalchemy import case, func, select

    t = table
    labelled = [*window.clauses(t), t.c.cnt.is_not(None)]
    error = t.c.prediction - t.c.cnt
    nonzero = t.c.cnt != 0
    sums = conn.execute(
        select(
            func.count(),
            func.sum(func.abs(error)),
            func.sum(error * error),
            func.sum(error),
            func.sum(t.c.cnt),
            func.count(case((nonzero, 1))),
            func.sum(case((nonzero, func.abs(error / t.c.cnt)))),
        ).where(*labelled)
    ).one()
    n = int(sums[0])
    if n == 0:
        return 0, dict.fromkeys(METRICS, float("nan"))
    abs_sum, square_sum, error_sum, target_sum, nonzero_n, relative_sum = (float(v or 0.0) for v in sums[1:])
    mean = target_sum / n
    deviation = t.c.cnt - mean
    total = float(conn.execute(select(func.sum(deviation * deviation)).where(*labelled)).scalar() or 0.0)
    metrics = {
        "mae": abs_sum / n,
        "rmse": math.sqrt(square_sum / n),
        "mape": relative_sum / nonzero_n if nonzero_n else float("nan"),
        "bias": error_sum / n,
        "r2": 1.0 - square_sum / total if total > 0 else float("nan"),
    }
    return n, metrics


def model_versions(conn: Connection, table: Table, window: Window) -> list[str]:
    """The model versions that made the predictions in ``window``, sorted."""
    # lazy: SQLAlchemy only when a database is opened
    from sqlalchemy import select

    col = table.c.model_version
    query = select(col).where(*window.clauses(table, by_value=conn.dialect.name)).group_by(col)
    return sorted(conn.execute(query).scalars())


def per_hour(conn: Connection, table: Table, since: dt.datetime, until: dt.datetime) -> list[dict[str, Any]]:
    """Predictions and labels per hour from ``since`` to ``until`` (naive UTC), hours with
    traffic only: ``hour`` (ISO), ``predictions``, ``labelled``.

    One range count per hour on the ``(created_at, cnt, prediction)`` index: no sort of
    the window's rows (a week is 169 small queries).
    """
    # lazy: SQLAlchemy only when a database is opened
    from sqlalchemy import bindparam, func, select

    t = table
    low, high = bindparam("low"), bindparam("high")
    query = select(func.count(), func.count(t.c.cnt)).where(t.c.created_at >= low, t.c.created_at < high)
    hour = since.replace(minute=0, second=0, microsecond=0)
    counts = []
    while hour < until:
        following = hour + dt.timedelta(hours=1)
        predictions, labelled = conn.execute(query, {"low": max(hour, since), "high": min(following, until)}).one()
        if predictions:
            counts.append({"hour": hour.isoformat(), "predictions": int(predictions), "labelled": int(labelled)})
        hour = following
    return counts
