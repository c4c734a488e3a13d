"""``GET /monitoring/drift`` and ``/monitoring/performance`` of the logged live traffic.

Both read aggregates computed by the database, answers are cached per parameters, and
neither moves a metric: the drift gauge is the service's own scheduled measurement
(:mod:`modelmedic.service.live_monitor`). Open to anyone unless
``MODELMEDIC_MONITORING_TOKEN_REQUIRED`` is true.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from starlette.concurrency import run_in_threadpool

from modelmedic.service.live_monitor import MonitoringBusy
from modelmedic.service.live_reports import drift_report, performance_report
from modelmedic.service.schemas import DriftReport, ErrorBody, PerformanceReport
from modelmedic.service.security import monitoring_access
from modelmedic.service.state import ServiceState, get_state

router = APIRouter(prefix="/monitoring", tags=["monitoring"])
Since = Annotated[
    dt.datetime | None,
    Query(description="Only traffic at or after this time (ISO 8601; UTC when no offset)."),
]
GUARDED = {
    401: {"model": ErrorBody},
    403: {"model": ErrorBody},
    429: {"model": ErrorBody, "description": "A measurement is running; retry after a second."},
    503: {"model": ErrorBody},
}


def _store(state: ServiceState) -> Any:
    if state.store is None or state.monitor is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the prediction log is not open")
    return state.store


async def cached_answer(state: ServiceState, key: Hashable, compute: Callable[[], Any], trusted: bool) -> Any:
    """``compute()`` through the process's cache and gate, off the event loop.

    Raises:
        HTTPException: 429 when an anonymous caller finds a measurement running.
    """
    assert state.monitor is not None
    try:
        return await run_in_threadpool(state.monitor.answer, key, compute, trusted)
    except MonitoringBusy as exc:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, str(exc), headers={"Retry-After": "1"}) from None


@router.get("/drift", response_model=DriftReport, responses=GUARDED)
async def drift(
    since: Since = None, state: ServiceState = Depends(get_state), trusted: bool = Depends(monitoring_access)
) -> Any:
    """Drift of the live traffic since ``since`` against the served model's reference."""
    reference = state.reference
    if reference is None or reference.engine is None:
        reason = reference.problem if reference else "no model loaded yet"
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"drift is unavailable: {reason}")
    store = _store(state)
    max_distinct = state.settings.monitoring_max_distinct
    key = ("drift", since, id(reference))
    return await cached_answer(state, key, lambda: drift_report(reference, store, since, max_distinct), trusted)


@router.get("/performance", response_model=PerformanceReport, responses=GUARDED)
async def performance(
    since: Since = None, state: ServiceState = Depends(get_state), trusted: bool = Depends(monitoring_access)
) -> Any:
    """Regression metrics of the live predictions since ``since`` that received a label."""
    store = _store(state)
    return await cached_answer(state, ("performance", since), lambda: performance_report(store, since), trusted)
