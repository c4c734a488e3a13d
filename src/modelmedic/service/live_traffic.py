"""What the dashboard shows of the running service: its live traffic and the model it serves.

The service hands these to :func:`~modelmedic.dashboard.routes.dashboard_router` (the
dashboard itself never imports the service). The live traffic reuses the service's own
monitoring functions (:mod:`modelmedic.service.live_reports`): the drift of the last 24
hours and of the last 7 days against the served model's reference, and the error of the
predictions that received a label, all from aggregates the database computes (the web
process never holds the log's rows).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from modelmedic.service.live_reports import drift_report, performance_report
from modelmedic.service.log_aggregates import per_hour
from modelmedic.service.log_schema import naive_utc

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
    """Predictions per hour, labelled share, error and drift of the service's recent traffic,
    from aggregates computed by the database (cached like ``/monitoring/*``).

    Args:
        state: The running service's state (its prediction log and drift reference).
        now: The end of the periods (default: the current UTC time; not cached then).

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
    if state.store is None:
        return None
    if now is not None or state.monitor is None:
        return _measure(state, now or dt.datetime.now(dt.UTC))
    return state.monitor.answer(
        ("dashboard", id(state.reference)), lambda: _measure(state, dt.datetime.now(dt.UTC)), trusted=True
    )


def served_model(state: ServiceState) -> dict[str, Any] | None:
    """``uri``, ``version`` and ``loaded_at`` of the model the service answers with, if any."""
    served = state.served
    if served is None:
        return None
    return {"uri": served.uri, "version": served.version, "loaded_at": served.loaded_at.isoformat(timespec="seconds")}


def _measure(state: ServiceState, now: dt.datetime) -> dict[str, Any]:
    store = state.store
    assert store is not None
    since = now - PERIODS["last_7d"]
    performance = performance_report(store, since)
    with store.reading() as conn:
        hours = per_hour(conn, store.table, naive_utc(since), naive_utc(now))
    reference = state.reference
    drift: dict[str, Any] | None = None
    if reference is not None and reference.engine is not None:
        max_distinct = state.settings.monitoring_max_distinct
        drift = {
            name: _drift_summary(drift_report(reference, store, now - span, max_distinct, until=now))
            for name, span in PERIODS.items()
        }
    rows = performance["rows"]
    return {
        "since": since.isoformat(timespec="seconds"),
        "rows": rows,
        "labelled": performance["labelled"],
        "labelled_share": performance["labelled"] / rows if rows else None,
        "per_hour": hours,
        "mae": performance["metrics"].get("mae"),
        "model_versions": performance["model_versions"],
        "reference": None if reference is None else reference.description,
        "drift_problem": None if reference is None else reference.problem,
        "drift": drift,
    }
