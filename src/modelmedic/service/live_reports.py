"""Drift and performance of the live traffic, read back from the prediction log.

The database aggregates the log (:mod:`~modelmedic.service.log_aggregates`): the web
process holds value counts and sums, never the rows. Drift uses the same engine as
``modelmedic monitor`` (the numpy ``fast`` engine: evidently is never imported by the
service), fitted once at start-up on the served model's reference:
its saved reference profile when the training run has one, else the reference period of
the data set (the model's training period).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from modelmedic.config import Settings
from modelmedic.data import load_dataset
from modelmedic.drift import DriftOptions, get_engine
from modelmedic.monitor.results import MonitorConfig
from modelmedic.schema import DatasetSchema
from modelmedic.secrets import masked
from modelmedic.service.log_aggregates import Window, count_rows, error_metrics, model_versions, window_stats
from modelmedic.service.log_schema import naive_utc
from modelmedic.windows import select_period

if TYPE_CHECKING:
    from modelmedic.drift import DriftEngine
    from modelmedic.service.prediction_log import PredictionStore
    from modelmedic.service.predictor import ServedModel

logger = logging.getLogger("modelmedic.service")
SERVICE_DRIFT_ENGINE = "fast"
# the live traffic is tested as `modelmedic monitor` tests by default, with the numpy engine
LIVE_CONFIG = MonitorConfig(engine=SERVICE_DRIFT_ENGINE)


@dataclass(frozen=True)
class LiveReference:
    """A drift engine fitted on the served model's reference, or why there is none.

    ``target_max`` is the largest target value of the reference (``None`` when unknown):
    the default bound of the labels ``/feedback`` accepts.
    """

    engine: DriftEngine | None
    description: str
    problem: str | None = None
    target_max: float | None = None


def drift_options(schema: DatasetSchema) -> Any:
    """The drift options of the live traffic: every feature of ``schema``, tested as
    ``modelmedic monitor`` tests them by default (:class:`~modelmedic.monitor.MonitorConfig`)."""
    return DriftOptions.from_schema(schema, LIVE_CONFIG.tests)


def load_reference(settings: Settings, served: ServedModel, schema: DatasetSchema) -> LiveReference:
    """Fit the drift engine on the served model's reference (never raises).

    Returns:
        A :class:`LiveReference`; its ``problem`` says why drift is unavailable, if it is.
    """
    options = drift_options(schema)
    profiled = _from_profile(served, options, settings, schema.target)
    if profiled is not None:
        return profiled
    start = served.info.get("training_start") or settings.reference_start
    end = served.info.get("training_end") or settings.reference_end
    try:
        frame, _ = load_dataset(None, schema, settings, progress=False)
        period = select_period(frame, start, end)
        engine = get_engine(str(LIVE_CONFIG.engine), options).fit(period)
    except Exception as exc:  # no data, no engine: the service still predicts
        logger.warning("live drift is unavailable: %s", exc)
        return LiveReference(None, f"data {start}..{end}", f"no reference to compare with: {exc}")
    target_max = float(period[schema.target].max()) if schema.target in period and len(period) else None
    return LiveReference(engine, f"data {start}..{end}", target_max=target_max)


def _from_profile(served: ServedModel, options: Any, settings: Settings, target: str) -> LiveReference | None:
    """The engine built from the training run's saved reference profile, if there is one."""
    try:
        # lazy: optional, guarded by ImportError
        from modelmedic.drift.fast import FastEngine
        from modelmedic.drift.profile import load_profile_for_model
        from modelmedic.drift.stats import NumericStats
    except ImportError:
        return None
    try:
        profile = load_profile_for_model(served.run_id or served.uri, settings)
        engine = FastEngine.from_profile(profile, options)
    except Exception as exc:  # no profile logged (older run), or another column set
        logger.info(
            "no usable reference profile for %s (%s): using the data's reference period", masked(served.uri), exc
        )
        return None
    target_stats = profile.columns.get(target)
    target_max = (
        float(target_stats.values[-1]) if isinstance(target_stats, NumericStats) and target_stats.nunique else None
    )
    return LiveReference(engine, f"reference profile of run {served.run_id or served.uri}", target_max=target_max)


def drift_report(
    reference: LiveReference,
    store: PredictionStore,
    since: dt.datetime | None,
    max_distinct: int,
    until: dt.datetime | None = None,
) -> dict[str, Any]:
    """Drift of the logged traffic from ``since`` to ``until`` (default: now) against
    ``reference``, from per-column value counts computed by the database
    (:mod:`~modelmedic.service.log_aggregates`).

    Returns:
        ``since``, ``rows``, ``engine``, ``reference`` and the drift result's documented
        ``dataset``/``columns`` shape (``dataset.drifted`` is ``None`` without traffic).

    Raises:
        PredictionStoreError: when the log cannot be read.
    """
    base = {"since": since, "rows": 0, "engine": SERVICE_DRIFT_ENGINE, "reference": reference.description}
    empty = {"dataset": {"columns": 0, "drifted_columns": 0, "share": None, "drifted": None}, "columns": {}}
    if reference.engine is None:
        return {**base, **empty}
    options = reference.engine.options
    window = Window(naive_utc(since), naive_utc(until or dt.datetime.now(dt.UTC)))  # every column: the same rows
    stats = window_stats(store, options.numerical, options.categorical, window, max_distinct)
    if stats.rows == 0:
        return {**base, **empty}
    return {**base, "rows": stats.rows, **reference.engine.calculate_stats(stats).to_dict()}


def performance_report(store: PredictionStore, since: dt.datetime | None) -> dict[str, Any]:
    """Regression metrics of the labelled logged traffic since ``since``, from sums computed
    by the database.

    Returns:
        ``since``, ``rows``, ``labelled``, ``metrics`` (``None`` where undefined, e.g. no
        labels yet) and the model versions that made the predictions.

    Raises:
        PredictionStoreError: when the log cannot be read.
    """
    window = Window(naive_utc(since))
    with store.reading() as conn:
        rows = count_rows(conn, store.table, window)
        labelled, metrics = error_metrics(conn, store.table, window)
        versions = model_versions(conn, store.table, window)
    return {
        "since": since,
        "rows": rows,
        "labelled": labelled,
        "metrics": {k: (None if math.isnan(v) else v) for k, v in metrics.items()},
        "model_versions": versions,
    }
