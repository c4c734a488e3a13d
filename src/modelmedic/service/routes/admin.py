"""``POST /admin/reload``: swap every worker of this server to the current champion."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, status

from modelmedic.errors import ModelmedicError
from modelmedic.secrets import masked
from modelmedic.service.model_refresh import swap_model, wait_for_workers
from modelmedic.service.schemas import ErrorBody, ReloadResponse
from modelmedic.service.security import require_token
from modelmedic.service.state import ServiceState, get_state

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_token)])
WORKERS_WAIT_SECONDS = 60.0  # the other workers load and prove the model too


@router.post(
    "/reload",
    response_model=ReloadResponse,
    responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}, 409: {"model": ErrorBody}},
)
async def reload(state: ServiceState = Depends(get_state)) -> Any:
    """Load the current champion (or ``MODELMEDIC_MODEL_URI`` again), prove it, swap it in.

    The new model is loaded beside the old one, which keeps answering meanwhile; it must
    predict its input example with finite values, then the swap is one assignment. A model
    that cannot be loaded, is not trusted or fails the proof is refused (409, the old one
    keeps serving). The other workers of this server then load the same version; the
    answer lists what each serves (waiting up to a minute for them).
    """
    previous = state.served
    try:
        served = await swap_model(state, "admin")
    except ModelmedicError as exc:
        current = f"version {previous.version}" if previous else "the previous model"
        raise HTTPException(status.HTTP_409_CONFLICT, f"reload failed, still serving {current}: {exc}") from None
    if state.board is not None:
        state.generation = state.board.raise_generation(served.version)  # no await: the tick cannot interleave
        state.board.report(served.version, state.generation)
    workers, complete = await wait_for_workers(state, state.generation, WORKERS_WAIT_SECONDS)
    return ReloadResponse(
        previous_version=previous.version if previous else "",
        model_version=served.version,
        uri=masked(served.uri),
        workers=workers,
        complete=complete,
    )
