"""Keeping every worker on the same, proved model: swaps, the alias refresh, the dyno's board.

- :func:`swap_model` loads a model beside the served one, proves it (it must predict its
  input example) and swaps it in with one assignment; a refused model is logged, counted in
  ``modelmedic_model_reload_failures_total{reason, trigger}`` and the old one keeps serving.
- :func:`refresh_loop`, one asyncio task per worker, follows the registry alias (the
  champion) every ``MODELMEDIC_MODEL_REFRESH_SECONDS`` and, every second, the dyno's
  :class:`WorkerBoard`: a folder shared by the workers of one gunicorn master
  (``MODELMEDIC_RELOAD_DIR``) where ``POST /admin/reload`` raises a generation that names
  the version every worker must serve, and where each worker writes what it serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool

from modelmedic.errors import ModelmedicError, ModelNotFoundError, UntrustedModelError
from modelmedic.secrets import masked

if TYPE_CHECKING:
    from modelmedic.service.predictor import ServedModel
    from modelmedic.service.state import ServiceState

logger = logging.getLogger("modelmedic.service")
TICK_SECONDS = 1.0


class WorkerBoard:
    """The dyno-local folder through which the workers of one server agree on a model.

    ``generation.json`` holds ``{"generation": n, "version": v}``, raised by a reload;
    ``worker-<pid>.json`` holds what that worker serves and the last generation it applied.
    Every file is replaced atomically (written aside, then renamed).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._seen: tuple[int, int] | None = None  # (mtime_ns, size) of generation.json read last

    def _write(self, name: str, value: dict[str, Any]) -> None:
        aside = self.folder / f".{name}.{os.getpid()}"
        aside.write_text(json.dumps(value))
        os.replace(aside, self.folder / name)

    def _read(self, path: Path) -> dict[str, Any]:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return {}

    def raise_generation(self, version: str) -> int:
        """Ask every worker to serve ``version``; returns the new generation."""
        import fcntl

        with open(self.folder / "generation.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            generation = int(self._read(self.folder / "generation.json").get("generation", 0)) + 1
            self._write("generation.json", {"generation": generation, "version": version})
        return generation

    def generation(self) -> tuple[int, str | None]:
        """``(generation, version)`` asked for last (``(0, None)`` before any reload)."""
        found = self._read(self.folder / "generation.json")
        return int(found.get("generation", 0)), found.get("version")

    def changed(self) -> bool:
        """Whether ``generation.json`` changed since the last call (one ``stat``)."""
        try:
            status = (self.folder / "generation.json").stat()
        except OSError:
            return False
        seen, self._seen = self._seen, (status.st_mtime_ns, status.st_size)
        return seen != self._seen

    def report(self, version: str, generation: int, error: str | None = None) -> None:
        """Record what this worker serves, the generation it applied and why it refused one."""
        self._write(f"worker-{os.getpid()}.json", {"version": version, "generation": generation, "error": error})

    def workers(self) -> dict[str, dict[str, Any]]:
        """What each live worker reported, by pid."""
        found = {}
        for path in self.folder.glob("worker-*.json"):
            pid = path.stem.removeprefix("worker-")
            if pid.isdigit() and _alive(int(pid)):
                found[pid] = self._read(path)
        return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def forget_worker(folder: str | Path, pid: int) -> None:
    """Drop the record of worker ``pid`` (it exited)."""
    with contextlib.suppress(OSError):
        (Path(folder) / f"worker-{pid}.json").unlink()


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
    from modelmedic.service.lifecycle import load_model_and_reference

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
    from modelmedic.service.predictor import alias_version, followed_alias

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
