"""What one server process holds: settings, the served model, the log and its writer, metrics."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import Request

from modelmedic.config import Settings
from modelmedic.schema import DatasetSchema

if TYPE_CHECKING:
    from modelmedic.service.live_monitor import LiveMonitor
    from modelmedic.service.live_reports import LiveReference
    from modelmedic.service.log_writer import GroupCommitWriter
    from modelmedic.service.metrics import ServiceMetrics
    from modelmedic.service.prediction_log import PredictionStore
    from modelmedic.service.predictor import ServedModel
    from modelmedic.service.worker_board import WorkerBoard


@dataclass
class ServiceState:
    """The process's service state; ``served`` and ``reference`` are replaced whole on reload.

    A request reads ``served`` once and uses that object to the end, so a reload swapping
    it never mixes two models inside one request and never drops one.
    """

    settings: Settings
    schema: DatasetSchema
    metrics: ServiceMetrics
    store: PredictionStore | None = None
    writer: GroupCommitWriter | None = None
    served: ServedModel | None = None
    reference: LiveReference | None = None
    monitor: LiveMonitor | None = None
    reload_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    board: WorkerBoard | None = None  # the workers' shared folder (gunicorn), if any
    generation: int = 0  # the last reload generation of the board this worker applied
    refused_version: str | None = None  # the alias's version the refresh refused last
    refresh_task: asyncio.Task[Any] | None = None


def get_state(request: Request) -> ServiceState:
    """FastAPI dependency: the process's :class:`ServiceState`."""
    return request.app.state.service
