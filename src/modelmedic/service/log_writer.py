"""Group commit for the prediction log: one transaction for every request waiting to be logged.

A request hands its rows to :meth:`GroupCommitWriter.write` and waits; one writer thread
takes every batch queued meanwhile, inserts them in a single transaction and wakes each
waiting request only after the commit returned. Durability is the same as one commit per
request (nothing is answered before it is on disk), but concurrent requests share the cost
of a commit (an fsync on SQLite), so throughput grows with load instead of queueing behind
the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from modelmedic.service.store import PredictionStore, PredictionStoreError

logger = logging.getLogger("modelmedic.service")
Settle = Callable[[BaseException | None], None]
_STOP = object()


class GroupCommitWriter:
    """Writes prediction rows through one thread, committing concurrent batches together.

    Args:
        store: The prediction log.
        max_rows: Most rows in one transaction.
    """

    def __init__(self, store: PredictionStore, max_rows: int = 5000) -> None:
        self.store = store
        self.max_rows = max_rows
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
            PredictionStoreError: when the transaction failed (the rows are not stored).
        """
        if self._thread is None:
            raise PredictionStoreError("the prediction log writer is not running")
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def settle(error: BaseException | None) -> None:
            loop.call_soon_threadsafe(_resolve, done, error)

        self._queue.put((rows, settle))
        await done

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            pending: list[tuple[Sequence[Mapping[str, Any]], Settle]] = [item]
            size = len(item[0])
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
                size += len(more[0])
            self._commit(pending)
            if stop:
                return

    def _commit(self, pending: list[tuple[Sequence[Mapping[str, Any]], Settle]]) -> None:
        error: BaseException | None = None
        try:
            self.store.log_predictions([row for rows, _ in pending for row in rows])
        except BaseException as exc:  # handed to every waiting request, never lost
            logger.error("prediction log write failed: %s", exc)
            error = exc if isinstance(exc, PredictionStoreError) else PredictionStoreError(str(exc))
        for _, settle in pending:
            with contextlib.suppress(RuntimeError):  # the request's event loop closed: nobody waits
                settle(error)


def _resolve(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():  # the request was cancelled (client gone)
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
