"""``POST /admin/reload``: swap to the current champion without dropping requests."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, status
from starlette.concurrency import run_in_threadpool

from modelmedic.errors import ModelmedicError
from modelmedic.service.schemas import ErrorBody, ReloadResponse
from modelmedic.service.security import require_token
from modelmedic.service.state import ServiceState, get_state

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_token)])


@router.post(
    "/reload",
    response_model=ReloadResponse,
    responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}, 409: {"model": ErrorBody}},
)
async def reload(state: ServiceState = Depends(get_state)) -> Any:
    """Load the current champion (or ``MODELMEDIC_MODEL_URI`` again) and swap it in.

    The new model is loaded beside the old one, which keeps answering meanwhile; the
    swap is one assignment. A failed load leaves the old model serving (409).
    """
    from modelmedic.service.lifecycle import load_model_and_reference

    async with state.reload_lock:
        previous = state.served
        try:
            served, reference = await run_in_threadpool(load_model_and_reference, state.settings, state.schema)
        except ModelmedicError as exc:
            raise HTTPException(
                status.HTTP_409_CONFLICT, f"reload failed, still serving the previous model: {exc}"
            ) from None
        state.served, state.reference = served, reference
    return ReloadResponse(
        previous_version=previous.version if previous else "", model_version=served.version, uri=served.uri
    )
