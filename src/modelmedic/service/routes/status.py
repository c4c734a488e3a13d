"""``GET /health``, ``/ready``, ``/model`` and ``/metrics``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, status
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from modelmedic.secrets import masked
from modelmedic.service.metrics import CONTENT_TYPE
from modelmedic.service.schemas import ErrorBody, ModelDescription, Readiness
from modelmedic.service.state import ServiceState, get_state

router = APIRouter(tags=["status"])


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}})
async def ready(state: ServiceState = Depends(get_state)) -> Any:
    """Readiness: a model is loaded and the prediction log answers (503 otherwise)."""
    served = state.served
    reachable = state.store is not None and await run_in_threadpool(state.store.ping)
    answer = Readiness(
        ready=served is not None and reachable,
        model_loaded=served is not None,
        store_reachable=reachable,
        model_version=served.version if served else None,
    )
    code = status.HTTP_200_OK if answer.ready else status.HTTP_503_SERVICE_UNAVAILABLE
    return JSONResponse(answer.model_dump(), status_code=code)


@router.get("/model", response_model=ModelDescription, responses={503: {"model": ErrorBody}})
async def model(state: ServiceState = Depends(get_state)) -> Any:
    """The served model: URI, version, run, training period, estimator and metrics."""
    served = state.served
    if served is None:
        return JSONResponse({"detail": "no model loaded yet"}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE)
    return ModelDescription(
        uri=masked(served.uri),
        version=served.version,
        run_id=served.run_id,
        training_start=served.info.get("training_start"),
        training_end=served.info.get("training_end"),
        estimator=served.info.get("estimator"),
        metrics=served.info.get("metrics", {}),
        loaded_at=served.loaded_at,
    )


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE: {}}}})
async def metrics(state: ServiceState = Depends(get_state)) -> Response:
    """Prometheus metrics (text exposition format)."""
    return Response(state.metrics.render(), media_type=CONTENT_TYPE)
