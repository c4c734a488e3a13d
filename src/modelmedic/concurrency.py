"""Running work beside the main thread of a job, in a forked process.

A monitoring job ends with two independent, CPU-bound tasks: logging every window to MLflow
and drawing the report files. Python threads would take turns on one core; a forked process
(which inherits the data without copying it) draws while this process logs. Where ``fork``
does not exist (Windows, and macOS's default), the work runs in this process instead, with
the same results.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from typing import Any


def can_fork() -> bool:
    """Whether worker processes can be forked (they then inherit this process's state)."""
    return "fork" in multiprocessing.get_all_start_methods()


def _timed(func: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    began = time.perf_counter()
    value = func(*args)
    return value, time.perf_counter() - began


def _child(writer: Any, func: Callable[..., Any], args: tuple[Any, ...]) -> None:
    """The forked process: send ``(True, (value, seconds))`` or ``(False, exception)``."""
    try:
        message: tuple[bool, Any] = (True, _timed(func, *args))
    except BaseException as exc:
        message = (False, exc)
    try:
        writer.send(message)
    except Exception as exc:
        writer.send((False, RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        writer.close()


class Aside:
    """``func(*args)`` started in a forked process at once; :meth:`result` waits for it.

    Exceptions raised by ``func`` are raised again by :meth:`result`. Should the process die
    without an answer (killed, out of memory), the work is done again in this process. Use it
    as a context manager so that the process is always reaped.

    Args:
        func: The work; its value and exceptions travel back pickled.
        args: Its arguments (the fork inherits them: nothing is copied).
        background: ``False`` runs the work in this process when :meth:`result` is called.
    """

    def __init__(self, func: Callable[..., Any], *args: Any, background: bool = True) -> None:
        self._func, self._args = func, args
        self._process: Any = None
        self._reader: Any = None
        self.seconds = 0.0
        if background and can_fork():
            context = multiprocessing.get_context("fork")
            self._reader, writer = context.Pipe(duplex=False)
            self._process = context.Process(target=_child, args=(writer, func, args), daemon=True)
            self._process.start()
            writer.close()

    def __enter__(self) -> Aside:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def in_background(self) -> bool:
        """Whether the work runs in another process."""
        return self._process is not None

    def result(self) -> Any:
        """Wait for the work and return its value (``seconds`` holds how long it took)."""
        if self._process is not None:
            try:
                ok, payload = self._reader.recv()
            except EOFError:  # the process died without answering: do the work here
                ok, payload = True, None
            self.close()
            if not ok:
                raise payload
            if payload is not None:
                value, self.seconds = payload
                return value
        value, self.seconds = _timed(self._func, *self._args)
        return value

    def close(self) -> None:
        """Wait for the process to end (it is not interrupted mid-write)."""
        if self._process is not None:
            self._process.join()
            self._reader.close()
            self._process = self._reader = None
