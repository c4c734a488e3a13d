"""Group commit for the prediction log: one transaction for every request waiting to be logged.

A request hands its rows to :meth:`GroupCommitWriter.write` and waits; one writer thread
takes every batch queued meanwhile, inserts them in a single transaction and wakes each
waiting request only after the commit returned. Durability is the same as one commit per
request (nothing is answered before it is on disk), but concurrent requests share the cost
of a commit (an fsync on SQLite), so throughput grows with load instead of queueing behind
the disk.

Every write has a deadline (``MODELMEDIC_DB_TIMEOUT_SECONDS``). A request still waiting
at its deadline gives up with :class:`PredictionStoreTimeout` ("nothing was stored"), and
the writer keeps that promise: it skips batches whose requests gave up, commits only
before the earliest deadline of a transaction, and in the one case left (a commit sent in
time whose answer came late, its request already told "nothing stored") deletes the rows
it had just committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from modelmedic.service.prediction_log import PredictionStore, PredictionStoreError, PredictionStoreTimeout

logger = logging.getLogger("modelmedic.service")
Settle = Callable[[BaseException | None], None]
_STOP = object()


class _Pending:
    """One request's rows, its deadline and whether it is still waiting for them."""

    def __init__(self, rows: Sequence[Mapping[str, Any]], settle: Settle, deadline: float) -> None:
        self.rows = rows
        self.settle = settle
        self.deadline = deadline
        self.lock = threading.Lock()
        self.abandoned = False  # the request gave up: it answered "nothing stored"
        self.settled = False

    def give_up(self) -> bool:
        """Mark the request as answered "nothing stored"; ``False`` when already settled."""
        with self.lock:
            if not self.settled:
                self.abandoned = True
            return self.abandoned

    def finish(self, error: BaseException | None) -> bool:
        """Wake the request with ``error`` (``None``: stored); ``False`` when it gave up."""
        with self.lock:
            if self.abandoned:
                return False
            self.settled = True
        with contextlib.suppress(RuntimeError):  # the request's event loop closed: nobody waits
            self.settle(error)
        return True


class GroupCommitWriter:
    """Writes prediction rows through one thread, committing concurrent batches together.

    Args:
        store: The prediction log.
        max_rows: Most rows in one transaction.
        timeout: Seconds a request waits for its rows to be committed (default: the
            store's write timeout).
    """

    def __init__(self, store: PredictionStore, max_rows: int = 5000, timeout: float | None = None) -> None:
        self.store = store
        self.max_rows = max_rows
        self.timeout = timeout if timeout is not None else store.timeouts.write
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def start(self) -> GroupCommitWriter:
        """Start the writer thread; return ``self``."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="prediction-log-writer", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the thread."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            self._thread = None

    async def write(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Log ``rows``; return once they are committed.

        Raises:
            PredictionStoreTimeout: when they were not committed within the timeout (and
                never will be).
            PredictionStoreError: when the transaction failed (the rows are not stored).
        """
        if self._thread is None:
            raise PredictionStoreError("the prediction log writer is not running")
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def settle(error: BaseException | None) -> None:
            loop.call_soon_threadsafe(_resolve, done, error)

        pending = _Pending(rows, settle, time.monotonic() + self.timeout)
        self._queue.put(pending)
        try:
            await asyncio.wait_for(asyncio.shield(done), self.timeout)
        except TimeoutError:
            if pending.give_up():
                raise PredictionStoreTimeout(self.store.timeout_message()) from None
            await done  # committed just now: the answer is on its way

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            pending: list[_Pending] = [item]
            size = len(item.rows)
            stop = False
            while size < self.max_rows:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stop = True
                    break
                pending.append(more)
                size += len(more.rows)
            self._commit(pending)
            if stop:
                return

    def _commit(self, pending: list[_Pending]) -> None:
        now = time.monotonic()
        waiting = [p for p in pending if not p.abandoned and p.deadline > now]
        if not waiting:
            return
        error: BaseException | None = None
        try:
            deadline = min(p.deadline for p in waiting)
            self.store.log_predictions([row for p in waiting for row in p.rows], deadline)
        except BaseException as exc:  # handed to every waiting request, never lost
            logger.error("prediction log write failed: %s", exc)
            error = exc if isinstance(exc, PredictionStoreError) else PredictionStoreError(str(exc))
        late = [p for p in waiting if not p.finish(error)]
        if error is None and late:  # committed after these requests answered "nothing stored"
            try:
                self.store.forget_predictions([row["id"] for p in late for row in p.rows])
            except PredictionStoreError as exc:
                logger.error("could not remove %d predictions committed too late: %s", len(late), exc)


def _resolve(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():  # the request was cancelled (client gone)
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
