"""Drift and performance of the live traffic, read back from the prediction log.

Drift uses the same engine as ``modelmedic monitor`` (the numpy ``fast`` engine: evidently
is never imported by the service), fitted once at start-up on the served model's reference:
its saved reference profile when the training run has one, else the reference period of
the data set (the model's training period).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from modelmedic.config import Settings
from modelmedic.performance import regression_metrics
from modelmedic.schema import DatasetSchema

if TYPE_CHECKING:
    import pandas as pd

    from modelmedic.drift import DriftEngine
    from modelmedic.service.predictor import ServedModel

logger = logging.getLogger("modelmedic.service")
SERVICE_DRIFT_ENGINE = "fast"


@dataclass(frozen=True)
class LiveReference:
    """A drift engine fitted on the served model's reference, or why there is none."""

    engine: DriftEngine | None
    description: str
    problem: str | None = None


def drift_options(schema: DatasetSchema) -> Any:
    """The drift options of the live traffic: every feature of ``schema``."""
    from modelmedic.drift import DriftOptions

    return DriftOptions(numerical=tuple(schema.numerical), categorical=tuple(schema.categorical))


def load_reference(settings: Settings, served: ServedModel, schema: DatasetSchema) -> LiveReference:
    """Fit the drift engine on the served model's reference (never raises).

    Returns:
        A :class:`LiveReference`; its ``problem`` says why drift is unavailable, if it is.
    """
    from modelmedic.drift import get_engine

    options = drift_options(schema)
    profiled = _from_profile(served, options, settings)
    if profiled is not None:
        return profiled
    start = served.info.get("training_start") or settings.reference_start
    end = served.info.get("training_end") or settings.reference_end
    try:
        from modelmedic.data import load_dataset
        from modelmedic.windows import select_period

        frame, _ = load_dataset(None, schema, settings, progress=False)
        engine = get_engine(SERVICE_DRIFT_ENGINE, options).fit(select_period(frame, start, end))
    except Exception as exc:  # no data, no engine: the service still predicts
        logger.warning("live drift is unavailable: %s", exc)
        return LiveReference(None, f"data {start}..{end}", f"no reference to compare with: {exc}")
    return LiveReference(engine, f"data {start}..{end}")


def _from_profile(served: ServedModel, options: Any, settings: Settings) -> LiveReference | None:
    """The engine built from the training run's saved reference profile, if there is one."""
    try:
        from modelmedic.drift.fast import FastEngine
        from modelmedic.drift.profile import load_profile_for_model
    except ImportError:
        return None
    try:
        profile = load_profile_for_model(served.run_id or served.uri, settings)
        engine = FastEngine.from_profile(profile, options)
    except Exception as exc:  # no profile logged (older run), or another column set
        logger.info("no usable reference profile for %s (%s): using the data's reference period", served.uri, exc)
        return None
    return LiveReference(engine, f"reference profile of run {served.run_id or served.uri}")


def drift_report(reference: LiveReference, frame: pd.DataFrame, since: dt.datetime | None) -> dict[str, Any]:
    """Drift of the logged traffic ``frame`` against ``reference``.

    Returns:
        ``since``, ``rows``, ``engine``, ``reference`` and the drift result's documented
        ``dataset``/``columns`` shape (``dataset.drifted`` is ``None`` without traffic).
    """
    base = {"since": since, "rows": len(frame), "engine": SERVICE_DRIFT_ENGINE, "reference": reference.description}
    if frame.empty or reference.engine is None:
        return {**base, "dataset": {"columns": 0, "drifted_columns": 0, "share": None, "drifted": None}, "columns": {}}
    return {**base, **reference.engine.calculate(frame).to_dict()}


def performance_report(frame: pd.DataFrame, schema: DatasetSchema, since: dt.datetime | None) -> dict[str, Any]:
    """Regression metrics of the labelled rows of the logged traffic ``frame``.

    Returns:
        ``since``, ``rows``, ``labelled``, ``metrics`` (``None`` where undefined, e.g. no
        labels yet) and the model versions that made the predictions.
    """
    import math

    labelled = frame.loc[frame[schema.target].notna()] if len(frame) else frame
    metrics = (
        regression_metrics(labelled[schema.target], labelled[schema.prediction])
        if len(labelled)
        else regression_metrics([], [])
    )
    return {
        "since": since,
        "rows": len(frame),
        "labelled": len(labelled),
        "metrics": {k: (None if math.isnan(v) else v) for k, v in metrics.items()},
        "model_versions": sorted(frame["model_version"].unique().tolist()) if len(frame) else [],
    }
