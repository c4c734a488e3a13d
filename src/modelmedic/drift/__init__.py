"""Drift between a reference and current data, behind one interface with two engines.

``evidently`` calls evidently (the reference implementation; it also renders HTML
reports); ``fast`` is a vectorised re-implementation of the same tests, proven equal.

Example:
    >>> from modelmedic.drift import compare
    >>> result = compare(reference, current, numerical=["temp"], categorical=["season"])
    >>> result.to_dict()["dataset"]["drifted"]
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelmedic.drift.base import (
    ENGINES,
    STATTESTS,
    ColumnDrift,
    DriftEngine,
    DriftOptions,
    DriftResult,
    DriftTests,
    StatTest,
    insufficient_data,
    is_drifted,
    is_numerical,
    register_engine,
    require_columns,
    stattest,
)
from modelmedic.drift.parquet import PARQUET_SUFFIXES, parquet_columns, parquet_stats
from modelmedic.errors import ConfigError, DataError
from modelmedic.extras import require

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ENGINES",
    "STATTESTS",
    "ColumnDrift",
    "DriftEngine",
    "DriftOptions",
    "DriftResult",
    "DriftTests",
    "StatTest",
    "compare",
    "compare_files",
    "get_engine",
    "infer_columns",
    "insufficient_data",
    "is_drifted",
    "is_numerical",
    "register_engine",
    "require_columns",
    "stattest",
]

ENGINE_MODULES = {
    "evidently": "modelmedic.drift.evidently_engine",
    "fast": "modelmedic.drift.fast",
    "spark": "modelmedic.drift.spark.engine",
}


def get_engine(name: str, options: DriftOptions) -> DriftEngine:
    """Return an unfitted engine called ``name`` (``fast``, ``evidently`` or ``spark``).

    Engines are imported on first use (evidently costs seconds to import).

    Raises:
        ConfigError: for an unknown engine name (or ``spark`` without pyspark).
        MissingExtraError: for ``evidently`` without ``modelmedic[monitor]``.
    """
    if name not in ENGINE_MODULES:
        raise ConfigError(f"unknown drift engine '{name}'; choose one of: {', '.join(ENGINE_MODULES)}")
    if name == "evidently":
        require("evidently", purpose="evidently (the evidently drift engine)")
    importlib.import_module(ENGINE_MODULES[name])
    return ENGINES[name](options)


def infer_columns(frame: pd.DataFrame, engine: str = "fast") -> tuple[list[str], list[str]]:
    """Split columns into numerical and categorical by dtype (numbers vs everything else).

    With the ``spark`` engine ``frame`` is a Spark DataFrame, typed by its Spark types
    (dates and timestamps left out).
    """
    if engine == "spark":
        # lazy: the Spark subpackage is needed by the spark engine only
        from modelmedic.drift.spark.sources import infer_spark_columns

        return infer_spark_columns(frame)  # type: ignore[arg-type]
    numerical = [c for c in frame.columns if is_numerical(frame[c])]
    categorical = [c for c in frame.columns if c not in numerical]
    return numerical, categorical


def compare(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numerical: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    *,
    engine: str = "fast",
    html: str | Path | None = None,
    **tests: Any,
) -> DriftResult:
    """Compare ``current`` with ``reference`` column by column.

    Columns not named are inferred from the reference's dtypes (when neither list is given),
    by :func:`infer_columns` for ``engine``. With the ``spark`` engine both frames are Spark
    DataFrames. With ``html``, evidently's HTML drift report of the same tests is also saved
    at that path.

    Args:
        reference: The reference data.
        current: The data compared with it.
        numerical: Numerical columns to test.
        categorical: Categorical columns to test.
        engine: ``fast``, ``evidently`` or ``spark``.
        html: Where to save evidently's HTML drift report of the same tests (optional).
        **tests: The :class:`DriftTests` options (``stattest``, ``threshold``,
            ``per_column_stattest``, ``per_column_threshold``, ``drift_share``).

    Returns:
        A :class:`DriftResult` with one :class:`ColumnDrift` per column.

    Raises:
        ConfigError: for unknown tests, engines or bad thresholds.
        DriftError: when the data lack a named column (or evidently fails on the report).
        MissingExtraError: for ``evidently`` (engine or ``html``) without ``modelmedic[monitor]``.
        TypeError: for an option :class:`DriftTests` does not hold.
    """
    if numerical is None and categorical is None:
        numerical, categorical = infer_columns(reference, engine)
    options = DriftOptions(
        numerical=tuple(numerical or ()), categorical=tuple(categorical or ()), **asdict(DriftTests(**tests))
    )
    result = get_engine(engine, options).fit(reference).calculate(current)
    if html is not None:
        # lazy: evidently costs seconds to import, and only the HTML report needs it
        from modelmedic.drift.evidently_engine import render_html

        render_html(reference, current, options, html)
    return result


def compare_files(
    reference: str | Path,
    current: str | Path,
    numerical: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    *,
    engine: str = "fast",
    html: str | Path | None = None,
    **tests: Any,
) -> tuple[DriftResult, dict[str, dict[str, int]]]:
    """:func:`compare` two data files (CSV or Parquet), and count their ``inf`` values.

    Two Parquet files with the ``fast`` engine (and no ``html``) are read one column at a
    time, numerical columns straight from their Arrow buffers (no pandas unless a
    categorical column is tested): the same scores, a fraction of the start-up and memory.
    Otherwise both files are read whole with :func:`modelmedic.data.read_table`.

    Returns:
        The drift, and per side (``reference``, ``current``) the numerical columns holding
        ``inf`` or ``-inf`` with their counts (the tests leave those values out).

    Raises:
        DataError: when a file is missing, of an unknown kind or unreadable.
        ConfigError: for unknown tests, engines or bad thresholds.
        DriftError: when the data lack a named column (or evidently fails on the report).
        MissingExtraError: for ``evidently`` or Parquet files without the extra they need.
    """
    paths = {"reference": Path(reference), "current": Path(current)}
    if engine == "fast" and html is None and all(p.suffix.lower() in PARQUET_SUFFIXES for p in paths.values()):
        for path in paths.values():
            if not path.is_file():
                raise DataError(f"{path} not found")
        if numerical is None and categorical is None:
            numerical, categorical = parquet_columns(paths["reference"])
        options = DriftOptions(
            numerical=tuple(numerical or ()), categorical=tuple(categorical or ()), **asdict(DriftTests(**tests))
        )
        counts: dict[str, dict[str, int]] = {"reference": {}, "current": {}}
        fast: Any = get_engine("fast", options)  # the fast engine reads summaries (fit_stats)
        fast.fit_stats(parquet_stats(paths["reference"], options.numerical, options.categorical, counts["reference"]))
        result = fast.calculate_stats(
            parquet_stats(paths["current"], options.numerical, options.categorical, counts["current"])
        )
        return result, {side: {c: n for c, n in found.items() if n} for side, found in counts.items()}
    # lazy: reading whole files imports pandas
    from modelmedic.data import read_table
    from modelmedic.quality import non_finite_counts

    frames = {side: read_table(path) for side, path in paths.items()}
    if numerical is None and categorical is None:
        numerical, categorical = infer_columns(frames["reference"], engine)
    result = compare(frames["reference"], frames["current"], numerical, categorical, engine=engine, html=html, **tests)
    counted = {side: non_finite_counts(frame, list(numerical or ())) for side, frame in frames.items()}
    return result, {side: {c: n for c, n in found.items() if n} for side, found in counted.items()}
