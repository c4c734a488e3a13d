"""The live-traffic section of the dashboard, read from the prediction service's log.

Reuses the service's own monitoring functions (:mod:`modelmedic.service.monitoring`): the
drift of the last 24 hours and of the last 7 days against the served model's reference,
and the error of the predictions that received a label.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelmedic.service.state import ServiceState

PERIODS = {"last_24h": dt.timedelta(hours=24), "last_7d": dt.timedelta(days=7)}


def _drift_summary(report: dict[str, Any]) -> dict[str, Any]:
    dataset = report.get("dataset") or {}
    columns = report.get("columns") or {}
    return {
        "rows": report.get("rows", 0),
        "share": dataset.get("share"),
        "drifted": dataset.get("drifted"),
        "tested_columns": dataset.get("columns", 0),
        "drifted_features": [c for c, v in columns.items() if v.get("drifted")],
    }


def live_traffic(state: ServiceState, now: dt.datetime | None = None) -> dict[str, Any] | None:
    """Predictions per hour, labelled share, error and drift of the service's recent traffic.

    Args:
        state: The running service's state (its prediction log and drift reference).
        now: The end of the periods (default: the current UTC time).

    Returns:
        ``None`` without an open log; else ``since``, ``rows`` (last 7 days), ``labelled``,
        ``labelled_share``, ``per_hour`` (``hour``, ``predictions``, ``labelled``), ``mae``
        (of the labelled rows, ``None`` without labels), ``model_versions``, ``reference``
        (what drift is measured against), ``drift_problem`` and ``drift`` (``last_24h`` /
        ``last_7d``: ``rows``, ``share``, ``drifted``, ``tested_columns``,
        ``drifted_features``; ``None`` when no reference is available).

    Raises:
        PredictionStoreError: when the log cannot be read.
    """
    from modelmedic.service.monitoring import drift_report, performance_report

    if state.store is None:
        return None
    now = now or dt.datetime.now(dt.UTC)
    since = now - PERIODS["last_7d"]
    frame = state.store.read_frame(since=since)
    schema = state.schema
    performance = performance_report(frame, schema, since)
    labelled = frame[schema.target].notna() if len(frame) else frame.index.isna()
    hours = frame.index.floor("h") if len(frame) else frame.index
    per_hour = frame.assign(_labelled=labelled).groupby(hours)["_labelled"].agg(["size", "sum"])
    reference = state.reference
    drift: dict[str, Any] | None = None
    if reference is not None and reference.engine is not None:
        drift = {}
        for name, span in PERIODS.items():
            start = (now - span).astimezone(dt.UTC).replace(tzinfo=None)
            part = frame.loc[frame.index >= start]
            drift[name] = _drift_summary(drift_report(reference, part, now - span))
    return {
        "since": since.isoformat(timespec="seconds"),
        "rows": len(frame),
        "labelled": performance["labelled"],
        "labelled_share": performance["labelled"] / len(frame) if len(frame) else None,
        "per_hour": [
            {"hour": hour.isoformat(), "predictions": int(row["size"]), "labelled": int(row["sum"])}
            for hour, row in per_hour.iterrows()
        ],
        "mae": performance["metrics"].get("mae"),
        "model_versions": performance["model_versions"],
        "reference": None if reference is None else reference.description,
        "drift_problem": None if reference is None else reference.problem,
        "drift": drift,
    }
