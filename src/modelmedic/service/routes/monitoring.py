"""``GET /monitoring/drift`` and ``/monitoring/performance`` of the logged live traffic."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from starlette.concurrency import run_in_threadpool

from modelmedic.service.monitoring import drift_report, performance_report
from modelmedic.service.schemas import DriftReport, ErrorBody, PerformanceReport
from modelmedic.service.state import ServiceState, get_state

router = APIRouter(prefix="/monitoring", tags=["monitoring"])
Since = Annotated[
    dt.datetime | None,
    Query(description="Only traffic at or after this time (ISO 8601; UTC when no offset)."),
]


def _store(state: ServiceState) -> Any:
    if state.store is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the prediction log is not open")
    return state.store


@router.get("/drift", response_model=DriftReport, responses={503: {"model": ErrorBody}})
async def drift(since: Since = None, state: ServiceState = Depends(get_state)) -> Any:
    """Drift of the live traffic since ``since`` against the served model's reference."""
    reference = state.reference
    if reference is None or reference.engine is None:
        reason = reference.problem if reference else "no model loaded yet"
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"drift is unavailable: {reason}")
    store = _store(state)
    report = await run_in_threadpool(lambda: drift_report(reference, store.read_frame(since), since))
    share = report["dataset"].get("share")
    if share is not None:
        state.metrics.drift_share.set(share)
    return report


@router.get("/performance", response_model=PerformanceReport, responses={503: {"model": ErrorBody}})
async def performance(since: Since = None, state: ServiceState = Depends(get_state)) -> Any:
    """Regression metrics of the live predictions since ``since`` that received a label."""
    store = _store(state)  # read and compute off the event loop: pandas would stall /predict
    return await run_in_threadpool(lambda: performance_report(store.read_frame(since), state.schema, since))
