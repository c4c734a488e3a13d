"""Keeping every worker on the same, proved model: swaps, the alias refresh, the dyno's board.

- :func:`swap_model` loads a model beside the served one, proves it (it must predict its
  input example) and swaps it in with one assignment; a refused model is logged, counted in
  ``modelmedic_model_reload_failures_total{reason, trigger}`` and the old one keeps serving.
- :func:`refresh_loop`, one asyncio task per worker, follows the registry alias (the
  champion) every ``MODELMEDIC_MODEL_REFRESH_SECONDS`` and, every second, the dyno's
  :class:`~modelmedic.service.worker_board.WorkerBoard`: a folder shared by the workers of
  one gunicorn master (``MODELMEDIC_RELOAD_DIR``) where ``POST /admin/reload`` raises a
  generation that names the version every worker must serve, and where each worker writes
  what it serves.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time

from starlette.concurrency import run_in_threadpool

from modelmedic.errors import ModelmedicError, ModelNotFoundError, UntrustedModelError
from modelmedic.secrets import masked
from modelmedic.service.loading import load_model_and_reference
from modelmedic.service.predictor import ServedModel, alias_version, followed_alias
from modelmedic.service.state import ServiceState

logger = logging.getLogger("modelmedic.service")
TICK_SECONDS = 1.0


def failure_reason(exc: ModelmedicError) -> str:
    """A short, bounded label for a refused model (a metric label)."""
    if isinstance(exc, UntrustedModelError):
        return "untrusted"
    if isinstance(exc, ModelNotFoundError):
        return "not_found"
    return str(getattr(exc, "reason", "") or "store")


async def swap_model(state: ServiceState, trigger: str, version: str | None = None) -> ServedModel:
    """Load (``version`` of the followed alias, else what the settings name), prove and swap in.

    Raises:
        ModelmedicError: when the model is missing, untrusted or fails its proof; the old
            model keeps serving and the refusal is logged and counted.
    """
    async with state.reload_lock:
        try:
            served, reference = await run_in_threadpool(load_model_and_reference, state.settings, state.schema, version)
        except ModelmedicError as exc:
            state.metrics.reload_failures.labels(failure_reason(exc), trigger).inc()
            current = state.served.version if state.served else "none"
            logger.warning("model refused (%s), still serving version %s: %s", trigger, current, exc)
            raise
        state.served, state.reference = served, reference
    state.metrics.reloads.labels(trigger).inc()
    logger.info("serving model %s version %s (%s)", masked(served.uri), served.version, trigger)
    if state.board is not None:
        state.board.report(served.version, state.generation)
    return served


async def wait_for_workers(state: ServiceState, generation: int, timeout: float) -> tuple[dict[str, str], bool]:
    """Wait (at most ``timeout`` s) until every worker applied ``generation``.

    Returns:
        The version each worker serves (by pid) and whether all serve this worker's version
        (a worker that refused it keeps its own and records why).
    """
    if state.board is None:
        return {str(os.getpid()): state.served.version if state.served else ""}, True
    deadline = time.monotonic() + timeout
    while True:
        workers = await run_in_threadpool(state.board.workers)
        done = all(int(w.get("generation", 0)) >= generation for w in workers.values())
        if done or time.monotonic() >= deadline:
            versions = {pid: str(w.get("version", "")) for pid, w in sorted(workers.items())}
            served = state.served.version if state.served else ""
            return versions, done and set(versions.values()) <= {served}
        await asyncio.sleep(0.1)


async def refresh_loop(state: ServiceState) -> None:
    """Follow the dyno's board every second and the registry alias every refresh interval."""
    alias = followed_alias(state.settings)
    every = state.settings.model_refresh_seconds
    next_check = time.monotonic() + every
    while True:
        await asyncio.sleep(TICK_SECONDS)
        try:
            if state.board is not None and state.board.changed():
                await _apply_generation(state, alias is not None)
            if alias is not None and every > 0 and time.monotonic() >= next_check:
                next_check = time.monotonic() + every
                version = await run_in_threadpool(alias_version, state.settings, alias)
                served = state.served
                if served is not None and version != served.version and version != state.refused_version:
                    try:
                        await swap_model(state, "refresh", version)
                    except ModelmedicError:
                        state.refused_version = version  # counted once; tried again when the alias moves
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # an unreachable store must not end the loop
            logger.warning("model refresh failed, still serving the same model: %s", exc)


async def _apply_generation(state: ServiceState, follows_alias: bool) -> None:
    assert state.board is not None
    generation, version = await run_in_threadpool(state.board.generation)
    if generation <= state.generation:
        return
    state.generation = generation
    try:
        await swap_model(state, "signal", version if follows_alias else None)
    except ModelmedicError as exc:
        served = state.served.version if state.served else ""
        state.board.report(served, generation, failure_reason(exc))
