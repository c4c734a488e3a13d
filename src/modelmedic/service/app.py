"""The FastAPI application: :func:`create_app` wires settings, routes, guards and start-up.

The model, its drift reference and the prediction log are opened once per process in the
lifespan; errors answer JSON (``{"detail": ...}``) and never carry a stack trace or SQL.

Run it with ``modelmedic serve``, or as the Procfile does::

    gunicorn -c python:modelmedic.service.gunicorn_conf 'modelmedic.service.app:create_app()'
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from modelmedic import __version__
from modelmedic.config import Settings, get_settings
from modelmedic.dashboard.routes import dashboard_router
from modelmedic.errors import ModelmedicError, ModelNotFoundError
from modelmedic.secrets import masked
from modelmedic.service.live_monitor import LiveMonitor
from modelmedic.service.live_traffic import live_traffic, served_model
from modelmedic.service.loading import load_model_and_reference, open_store
from modelmedic.service.log_writer import GroupCommitWriter
from modelmedic.service.metrics import MetricsMiddleware, ServiceMetrics
from modelmedic.service.model_refresh import failure_reason, refresh_loop
from modelmedic.service.prediction_log import PredictionStoreError
from modelmedic.service.predictor import followed_alias
from modelmedic.service.routes import admin, monitoring, predictions
from modelmedic.service.routes import status as status_routes
from modelmedic.service.schemas import service_schema
from modelmedic.service.security import monitoring_access
from modelmedic.service.state import ServiceState
from modelmedic.service.worker_board import WorkerBoard

logger = logging.getLogger("modelmedic.service")
_BRANCH_TAGS = {"body", "instance", "batch", "label", "labels"}
BYTES_PER_INSTANCE = 1024  # a bike instance is ~250 bytes of JSON; room for whitespace


def max_body_bytes(max_batch: int) -> int:
    """The largest request body accepted: ``max_batch`` generous instances, at least 64 KiB."""
    return max(64 * 1024, max_batch * BYTES_PER_INSTANCE)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the prediction service.

    Args:
        settings: The configuration (default: the environment's, see :mod:`modelmedic.config`).

    Returns:
        A FastAPI app; the model and the log are loaded when it starts (lifespan), and a
        missing model or an unreachable database stops the start with a clear error.
    """
    settings = settings or get_settings()
    state = ServiceState(settings=settings, schema=service_schema(), metrics=ServiceMetrics())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(_start, state)
        if state.board is not None or (settings.model_refresh_seconds > 0 and followed_alias(settings)):
            state.refresh_task = asyncio.create_task(refresh_loop(state), name="model-refresh")
        try:
            yield
        finally:
            if state.refresh_task is not None:
                state.refresh_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await state.refresh_task
            _stop(state)

    app = FastAPI(
        title="modelmedic prediction service",
        version=__version__,
        summary="Hourly bike rental demand, with every prediction and label logged for monitoring.",
        lifespan=lifespan,
        max_body_size=max_body_bytes(settings.max_batch),
    )
    app.state.service = state
    app.add_middleware(MetricsMiddleware, metrics=state.metrics)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(PredictionStoreError, _store_unavailable)
    app.add_exception_handler(ModelmedicError, _user_error)
    app.add_exception_handler(Exception, _internal_error)
    app.include_router(predictions.predictions_router(settings.max_batch))
    app.include_router(status_routes.router)
    app.include_router(monitoring.router)
    app.include_router(admin.router)
    app.include_router(
        dashboard_router(
            settings, live=lambda: live_traffic(state), served=lambda: served_model(state), access=monitoring_access
        )
    )
    return app


def _start(state: ServiceState) -> None:
    """Open the log, load and prove the model, fit its reference, start the log writer.

    Raises:
        ModelmedicError: when the model is missing, untrusted or fails its proof.
    """
    state.store = open_store(state.settings)
    if state.settings.reload_dir is not None:
        state.board = WorkerBoard(state.settings.reload_dir)
        state.generation = state.board.generation()[0]
        state.board.changed()  # the generation as it is now is applied by loading the model
    try:
        state.served, state.reference = load_model_and_reference(state.settings, state.schema)
    except ModelmedicError as exc:
        state.metrics.reload_failures.labels(failure_reason(exc), "start").inc()
        raise
    state.metrics.reloads.labels("start").inc()
    if state.board is not None:
        state.board.report(state.served.version, state.generation)
    state.writer = GroupCommitWriter(state.store).start()
    state.monitor = LiveMonitor(state).start()  # the drift gauge's own scheduled measurement
    logger.info("serving model %s version %s", masked(state.served.uri), state.served.version)


def _stop(state: ServiceState) -> None:
    if state.monitor is not None:
        state.monitor.stop()
    if state.writer is not None:
        state.writer.stop()
    if state.store is not None:
        state.store.close()


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """``("body", "batch", "instances", 0, "hr")`` -> ``"instances[0].hr"``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part not in _BRANCH_TAGS:
            path += f".{part}" if path else str(part)
    return path or "body"


async def _invalid_request(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    detail = [
        {
            "field": field_path(error.get("loc", ())),
            "loc": list(error.get("loc", ())),
            "msg": error.get("msg", "invalid"),
            "type": error.get("type", "value_error"),
        }
        for error in exc.errors()
    ]
    return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _store_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    logger.error("prediction log unavailable: %s", exc)
    return JSONResponse(
        {"detail": "the prediction log is unavailable, nothing was stored: retry later"},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
    )


async def _user_error(_request: Request, exc: Exception) -> JSONResponse:
    code = status.HTTP_503_SERVICE_UNAVAILABLE if isinstance(exc, ModelNotFoundError) else status.HTTP_400_BAD_REQUEST
    return JSONResponse({"detail": str(exc)}, status_code=code)


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    logger.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "internal error: the server's log has the details"}, status_code=500)
