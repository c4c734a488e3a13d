"""Drift of many windows against one reference, in this process or in worker processes.

The evidently engine spends a good part of a second per window; spread over the machine's
cores (each worker fitting the engine once) a two-year weekly job takes about half as long.
evidently's HTML reports, slower still, render in the same workers whatever the engine.
The fast engine alone computes in this process (shipping a window to a worker costs about
what its drift does); given a ``finish`` step, such as the monitor's performance, quality
and segments per window, the workers do both and the job spreads over the cores.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelmedic.concurrency import can_fork
from modelmedic.drift import get_engine
from modelmedic.drift.base import DriftOptions
from modelmedic.drift.evidently_engine import render_html
from modelmedic.errors import DriftError

if TYPE_CHECKING:
    import pandas as pd

    from modelmedic.drift.spark.checks import WindowChecks

# the state of a worker process, set by its initializer
_WORKER: dict[str, Any] = {}


def _init_worker(state: dict[str, Any]) -> None:
    _WORKER.update(state)


def _worker_drift(current: pd.DataFrame, key: Any = None, state: dict[str, Any] | None = None) -> Any:
    """Drift of one window's columns, passed to ``finish`` when there is one; the engine is
    fitted once per process (or ``state``)."""
    state = _WORKER if state is None else state
    if state["engine"] is None:
        state["engine"] = get_engine(state["engine_name"], state["options"]).fit(state["reference"])
    # only the engine's columns (a missing one is the engine's DriftError to report)
    drift = state["engine"].calculate(current[[c for c in state["options"].columns if c in current.columns]])
    finish = state["finish"]
    return drift if finish is None else finish(key, current, drift)


def _worker_render(
    current: pd.DataFrame,
    path: Path,
    options: DriftOptions,
    target: str | None,
    prediction: str | None,
    state: dict[str, Any] | None = None,
) -> Path | None:
    """Render one window's evidently HTML report against the reference (``None``: evidently
    could not render it)."""
    state = _WORKER if state is None else state
    reference = state["reference"]
    try:
        return render_html(reference, current, options, path, target=target, prediction=prediction)
    except DriftError:
        return None


def default_workers() -> int:
    """Worker processes to use: one per core, at most 2 (evidently is memory-hungry)."""
    return max(1, min(2, os.cpu_count() or 1))


class WindowDrift:
    """Computes drift of windows against one reference and renders evidently's reports.

    Args:
        engine_name: ``fast``, ``evidently`` or ``spark`` (all windows in the same Spark jobs).
        options: The engine's options.
        reference: The reference rows (at least the options' columns).
        workers: Size of the process pool (1: everything in this process).
        finish: ``finish(key, current, drift)`` run on each window's drift where it was
            computed, its value returned instead of the drift (see :meth:`calculate`); it
            must pickle where worker processes cannot be forked.
        checks: What the ``spark`` engine also measures in each window, in the same jobs
            (quality, error); ``finish`` then gets them as ``measured=``. Other engines
            ignore it.

    The engine is fitted on ``reference`` at once. Use the object as a context manager:
    leaving the block stops the workers. Progress callbacks must not start threads (the
    workers are forked on first use).

    Raises:
        ConfigError: for an unknown engine or options it cannot honour.
        DriftError: when the reference lacks a column or holds no rows.
    """

    def __init__(
        self,
        engine_name: str,
        options: DriftOptions,
        reference: pd.DataFrame,
        workers: int,
        finish: Callable[..., Any] | None = None,
        checks: WindowChecks | None = None,
    ) -> None:

        # fitted here, once: forked workers inherit it (and its imports) for free
        engine = get_engine(engine_name, options).fit(reference)
        self.workers = workers
        self.parallel_drift = engine_name == "evidently" or finish is not None
        self._local: dict[str, Any] = {
            "engine_name": engine_name, "options": options, "reference": reference, "engine": engine,
            "finish": finish,
        }  # fmt: skip
        self._pool: Any = None
        self.checks = checks

    def __enter__(self) -> WindowDrift:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def _executor(self) -> Any:
        if self._pool is None:
            fork = can_fork()
            # spawned workers get the state pickled, and fit their own engine
            state = self._local if fork else {**self._local, "engine": None}
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("fork" if fork else None),
                initializer=_init_worker,
                initargs=(state,),
            )
        return self._pool

    def _map(
        self,
        func: Callable[..., Any],
        jobs: list[tuple[Any, ...]],
        parallel: bool,
        advance: Callable[[], None] | None,
    ) -> list[Any]:
        if parallel and self.workers > 1 and len(jobs) > 1:
            futures = [self._executor().submit(func, *job) for job in jobs]
            results = (future.result() for future in futures)
        else:
            results = (func(*job, state=self._local) for job in jobs)
        out = []
        for result in results:
            out.append(result)
            if advance:
                advance()
        return out

    def calculate(
        self,
        currents: list[pd.DataFrame],
        advance: Callable[[], None] | None = None,
        keys: list[Any] | None = None,
    ) -> list[Any]:
        """Drift of every frame of ``currents`` (of the options' columns), in order; with a
        ``finish`` step, ``finish(key, current, drift)`` of each instead. ``advance()`` after
        each.

        Raises:
            DriftError: when a frame lacks a column.
        """
        keys = keys if keys is not None else [None] * len(currents)
        engine = self._local["engine"]
        if engine.name == "spark":  # every window in the same few Spark jobs, then each finish here
            found = engine.check_frames(currents, self.checks)
            finish = self._local["finish"]
            out = []
            for current, key, (drift, measured) in zip(currents, keys, found, strict=True):
                if finish is None:
                    out.append(drift)
                else:
                    out.append(finish(key, current, drift, **({"measured": measured} if measured else {})))
                if advance:
                    advance()
            return out
        jobs = list(zip(currents, keys, strict=True))
        return self._map(_worker_drift, jobs, self.parallel_drift, advance)

    def render(
        self,
        jobs: list[tuple[pd.DataFrame, Path]],
        options: DriftOptions,
        target: str | None = None,
        prediction: str | None = None,
        advance: Callable[[], None] | None = None,
    ) -> list[Path | None]:
        """Write evidently's HTML report of each ``(current, path)``, with ``options``.

        Returns:
            The paths written, ``None`` where evidently could not render the report.
        """
        args = [(current, path, options, target, prediction) for current, path in jobs]
        return self._map(_worker_render, args, True, advance)
