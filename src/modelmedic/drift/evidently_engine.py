"""The ``evidently`` drift engine: evidently 0.7's own tests, one Report per window.

Each current window runs one evidently ``Report`` holding a ``ValueDrift`` metric per
testable column. A ``ValueDrift`` result is only a score; the test evidently picked (its
default choice depends on the reference size, the column type and the number of unique
values) and the threshold are read back from the metric's resolved configuration, and the
flag is derived with :func:`~modelmedic.drift.base.is_drifted` (p-values drift *below* the
threshold, distances *at or above* it).

Columns that cannot be tested (missing or too few values on either side, or evidently
raising) get a :class:`~modelmedic.drift.base.ColumnDrift` with an ``error`` and no verdict.

evidently takes seconds to import, so it is imported inside the functions only.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelmedic.drift.base import (
    STATTESTS,
    ColumnDrift,
    DriftEngine,
    DriftOptions,
    DriftResult,
    insufficient_data,
    is_numerical,
    register_engine,
    require_columns,
)
from modelmedic.errors import DriftError
from modelmedic.extras import require

if TYPE_CHECKING:
    import evidently
    import pandas as pd

# modelmedic test name -> evidently's, where they differ
EVIDENTLY_IDS = {"energy": "ed", "epps_singleton": "es"}


def evidently_test_id(name: str) -> str:
    """evidently's id of the modelmedic test ``name`` (``energy`` is ``ed``, …)."""
    return EVIDENTLY_IDS.get(name, name)


@functools.cache
def evidently_stattests() -> dict[str, Any]:
    """evidently's legacy test objects by modelmedic test name.

    Each object is callable as ``test(reference, current, column_type, threshold)`` and
    returns a result with ``drift_score``: the functions evidently's reports run.
    """
    # lazy: evidently takes ~3 s to import
    from evidently.legacy.calculations import stattests
    from evidently.legacy.calculations.stattests.registry import StatTest

    objects = {obj.name: obj for obj in vars(stattests).values() if isinstance(obj, StatTest)}
    return {name: objects[evidently_test_id(name)] for name in STATTESTS}


@functools.cache
def _test_names() -> dict[str, str]:
    """modelmedic test name by evidently's id and by its display name."""
    names: dict[str, str] = {}
    for name, test in evidently_stattests().items():
        names[test.name] = names[test.display_name] = name
    return names


@contextlib.contextmanager
def _scores_only() -> Iterator[None]:
    """Skip the plotly widgets ValueDrift draws for each column while computing scores.

    Drawing them is 80-87% of a Report's time and nothing reads them when only the scores
    are wanted; the scores are the same. HTML reports (:func:`render_html`) draw them.
    """
    # lazy: evidently takes ~3 s to import
    from evidently.metrics.column_statistics import ValueDriftCalculation

    original = ValueDriftCalculation._render
    ValueDriftCalculation._render = lambda self, *args, **kwargs: []  # type: ignore[method-assign]
    try:
        yield
    finally:
        ValueDriftCalculation._render = original  # type: ignore[method-assign]


@contextlib.contextmanager
def _quiet_numpy() -> Iterator[None]:
    """Silence the RuntimeWarnings evidently's statistics raise on all-missing columns."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _legacy_column_type(column_type: str) -> Any:
    # lazy: evidently takes ~3 s to import
    from evidently.legacy.core import ColumnType

    return ColumnType.Numerical if column_type == "numerical" else ColumnType.Categorical


def usable_values(series: pd.Series) -> pd.Series:
    """The values a test sees, as evidently cleans them: infinities and missing values dropped."""
    # lazy: numpy only where arrays are computed
    import numpy as np

    return series.replace([-np.inf, np.inf], np.nan).dropna()


def _column_problem(reference: pd.Series, current: pd.Series, column_type: str, min_rows: int) -> str | None:
    """Why a column cannot be tested, or ``None``."""
    if column_type == "numerical":
        for side, values in (("reference", reference), ("current data", current)):
            if not is_numerical(values):
                return f"the {side} holds non-numbers in a numerical column; declare it categorical"
    return insufficient_data(len(usable_values(reference)), len(usable_values(current)), min_rows)


def evidently_dataset(
    frame: pd.DataFrame,
    options: DriftOptions,
    target: str | None = None,
    prediction: str | None = None,
) -> evidently.Dataset:
    """Wrap ``frame`` as an evidently ``Dataset`` typed by ``options`` (``frame`` is copied).

    Only the tested columns (plus ``target`` and ``prediction`` when given) are kept; with
    both of these a regression task is declared, for evidently's regression metrics.

    Returns:
        An ``evidently.Dataset`` with an explicit ``DataDefinition`` (no type guessing).

    Raises:
        DriftError: when ``frame`` lacks one of these columns.
    """
    # lazy: evidently takes ~3 s to import
    from evidently import DataDefinition, Dataset, Regression

    extra = [c for c in (target, prediction) if c is not None and c not in options.columns]
    columns = [*options.columns, *extra]
    require_columns(frame, columns, "data")
    regression = [Regression(target=target, prediction=prediction)] if target and prediction else None
    definition = DataDefinition(
        numerical_columns=[*options.numerical, *extra],
        categorical_columns=list(options.categorical),
        datetime_columns=[],
        text_columns=[],
        unknown_columns=[],
        list_columns=[],
        regression=regression,
    )
    with _quiet_numpy():
        return Dataset.from_pandas(frame.loc[:, columns], data_definition=definition)


def _value_drift(column: str, options: DriftOptions) -> Any:
    # lazy: evidently takes ~3 s to import
    from evidently.metrics import ValueDrift

    test = options.column_stattest(column)
    return ValueDrift(
        column=column,
        method=None if test is None else evidently_test_id(test),
        threshold=options.column_threshold(column),
    )


@register_engine
class EvidentlyEngine(DriftEngine):
    """Drift computed by evidently itself: the reference implementation, and the slow one."""

    name = "evidently"

    def __init__(self, options: DriftOptions) -> None:
        super().__init__(options)
        self._reference: pd.DataFrame | None = None
        self._reference_dataset: Any = None

    def fit(self, reference: pd.DataFrame) -> EvidentlyEngine:
        """Keep the reference's tested columns (a copy) and its evidently ``Dataset``.

        Returns:
            ``self``.

        Raises:
            DriftError: when the reference lacks a column or holds no rows.
        """
        columns = self.options.columns
        require_columns(reference, columns, "reference")
        if reference.empty:
            raise DriftError("the reference holds no rows; choose a reference period with data")
        self._reference = reference.loc[:, columns].copy()
        self._reference_dataset = evidently_dataset(self._reference, self.options)
        return self

    def calculate(self, current: pd.DataFrame) -> DriftResult:
        """Compare ``current`` with the reference in one evidently Report.

        Returns:
            One :class:`ColumnDrift` per column; untestable columns carry an ``error``.

        Raises:
            DriftError: when the engine is not fitted or ``current`` lacks a column.
        """
        if self._reference is None:
            raise DriftError("the evidently engine is not fitted: call fit(reference) first")
        reference = self._reference
        columns = self.options.columns
        require_columns(current, columns, "current data")
        current = current.loc[:, columns]
        problems = {
            c: _column_problem(reference[c], current[c], self.options.column_type(c), self.options.min_rows)
            for c in columns
        }
        testable = [c for c in columns if problems[c] is None]
        results = self._run(reference, current, testable) if testable else {}
        drifts = {
            c: results[c] if c in results else self._untested(c, reference[c], current[c], problems[c] or "")
            for c in columns
        }
        return DriftResult(
            drifts,
            drift_share=self.options.drift_share,
            reference_rows=len(reference),
            current_rows=len(current),
            engine=self.name,
        )

    def _run(self, reference: pd.DataFrame, current: pd.DataFrame, columns: list[str]) -> dict[str, ColumnDrift]:
        """ValueDrift of ``columns`` in one Report.

        When evidently raises, the columns are re-run one by one to single out the failing
        one (which is then untested); the normal path is one Report per window.
        """
        # lazy: evidently takes ~3 s to import
        from evidently import Report

        try:
            with _quiet_numpy(), _scores_only():
                snapshot = Report([_value_drift(c, self.options) for c in columns]).run(
                    evidently_dataset(current, self.options), self._reference_dataset
                )
        except Exception as exc:  # evidently raises many kinds on data it cannot test
            if len(columns) == 1:
                column, error = columns[0], f"evidently could not test this column: {exc}"
                return {column: self._untested(column, reference[column], current[column], error)}
            return {c: drift for column in columns for c, drift in self._run(reference, current, [column]).items()}
        return {m["config"]["column"]: self._read(m) for m in snapshot.dict()["metrics"]}

    def _read(self, metric: dict[str, Any]) -> ColumnDrift:
        """A ColumnDrift from one ValueDrift result (``config`` + ``value``)."""
        config = metric["config"]
        column = config["column"]
        test = _test_names()[config["method"]]
        threshold, score = float(config["threshold"]), float(metric["value"])
        return ColumnDrift.from_score(column, self.options.column_type(column), test, threshold, score)

    def _untested(self, column: str, reference: pd.Series, current: pd.Series, error: str) -> ColumnDrift:
        """A ColumnDrift without verdict, naming the test that would have run."""
        column_type = self.options.column_type(column)
        test = self.options.column_stattest(column) or _default_stattest(reference, current, column_type)
        return ColumnDrift(column, column_type, test, self.options.resolved_threshold(column, test), None, None, error)


def _default_stattest(reference: pd.Series, current: pd.Series, column_type: str) -> str:
    """The test evidently picks by default for these data (its own rule)."""
    # lazy: evidently takes ~3 s to import
    from evidently.legacy.calculations.stattests.registry import _get_default_stattest

    test = _get_default_stattest(usable_values(reference), usable_values(current), _legacy_column_type(column_type))
    return _test_names()[test.name]


def render_html(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    options: DriftOptions,
    path: str | Path,
    target: str | None = None,
    prediction: str | None = None,
) -> Path:
    """Save evidently's HTML report of ``current`` against ``reference`` at ``path``.

    The report shows the drift of every testable column (evidently's ``DataDriftPreset``
    with the tests, thresholds and drift share of ``options``) and, when ``target`` and
    ``prediction`` are given, evidently's regression quality.

    Returns:
        The path written.

    Raises:
        DriftError: when a column is missing, no column can be tested, or evidently fails.
        MissingExtraError: without ``modelmedic[monitor]`` (evidently).
    """
    require("evidently", purpose="evidently (HTML drift reports)")
    # lazy: evidently takes ~3 s to import
    from evidently import Report
    from evidently.presets import DataDriftPreset, RegressionPreset

    require_columns(reference, options.columns, "reference")
    require_columns(current, options.columns, "current data")
    testable = [
        c
        for c in options.columns
        if _column_problem(reference[c], current[c], options.column_type(c), options.min_rows) is None
    ]
    if not testable:
        raise DriftError("insufficient data: no column can be tested, so there is no report to render")
    tested = DriftOptions(
        numerical=tuple(c for c in options.numerical if c in testable),
        categorical=tuple(c for c in options.categorical if c in testable),
        drift_share=options.drift_share,
        min_rows=options.min_rows,
    )
    methods = {c: evidently_test_id(t) for c in testable if (t := options.column_stattest(c))}
    thresholds = {c: t for c in testable if (t := options.column_threshold(c)) is not None}
    items: list[Any] = [
        DataDriftPreset(
            columns=testable,
            drift_share=options.drift_share,
            per_column_method=methods or None,
            per_column_threshold=thresholds or None,
        )
    ]
    if target and prediction:
        items.append(RegressionPreset())
    path = Path(path)
    try:
        with _quiet_numpy():
            snapshot = Report(items).run(
                evidently_dataset(current, tested, target, prediction),
                evidently_dataset(reference, tested, target, prediction),
            )
            path.parent.mkdir(parents=True, exist_ok=True)
            snapshot.save_html(str(path))
    except DriftError:
        raise
    except Exception as exc:
        raise DriftError(f"evidently could not render the report: {exc}") from None
    return path
