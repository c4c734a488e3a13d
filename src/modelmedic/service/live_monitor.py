"""Who may make the service measure its traffic, how often, and what the alert gauges show.

- **The gauges alerts read** (``modelmedic_drift_share``) are set only by the service's
  own measurement: a background thread measures the drift of the last
  ``MODELMEDIC_MONITORING_WINDOW_DAYS`` days (default 7) every
  ``MODELMEDIC_MONITORING_INTERVAL_SECONDS`` (default 300), starting when the service
  starts. No request, with or without a token, moves them.
- **Answers are reused**: ``/monitoring/*`` and the dashboard's live data are cached per
  (route, parameters) for ``MODELMEDIC_MONITORING_CACHE_SECONDS`` (default 30).
- **One measurement at a time** per process: a caller without the API token who finds one
  running gets 429 at once (retry after a second) instead of queueing, so anonymous
  traffic can take at most one thread and never starves ``/predict``; token holders wait.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, Protocol

from modelmedic.errors import ModelmedicError
from modelmedic.service.live_reports import drift_report

if TYPE_CHECKING:
    from modelmedic.config import Settings
    from modelmedic.service.live_reports import LiveReference
    from modelmedic.service.metrics import ServiceMetrics
    from modelmedic.service.prediction_log import PredictionStore

logger = logging.getLogger("modelmedic.service")


class MonitoringBusy(ModelmedicError):
    """Another measurement is running and the caller may not wait for it (HTTP 429)."""


class MonitoredService(Protocol):
    """What the live monitor reads of a server process (its :class:`~modelmedic.service.state.ServiceState`)."""

    settings: Settings
    metrics: ServiceMetrics
    reference: LiveReference | None
    store: PredictionStore | None


class LiveMonitor:
    """The cache, the gate and the scheduled measurement of one server process.

    Args:
        state: The process's service state (its log, reference, settings and metrics).
        clock: Seconds for cache ages (``time.monotonic``; tests may pass another).
    """

    def __init__(self, state: MonitoredService, clock: Callable[[], float] = time.monotonic) -> None:
        self.state = state
        self.clock = clock
        self._cache: dict[Hashable, tuple[float, Any]] = {}
        self._cache_lock = threading.Lock()
        self._gate = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.hits = 0
        self.measured_at: dt.datetime | None = None

    # -- answers ----------------------------------------------------------------------------

    def answer(self, key: Hashable, compute: Callable[[], Any], trusted: bool) -> Any:
        """The cached answer for ``key`` or a fresh one from ``compute`` (then cached).

        Args:
            key: The route and its parameters.
            compute: Computes the answer (reads the log).
            trusted: Whether the caller holds the API token (may wait for the gate).

        Raises:
            MonitoringBusy: when an untrusted caller finds another measurement running.
            PredictionStoreError: when the log cannot be read.
        """
        ttl = self.state.settings.monitoring_cache_seconds
        cached = self._cached(key, ttl)
        if cached is not None:
            return cached[1]
        if not self._gate.acquire(blocking=trusted):
            raise MonitoringBusy("another monitoring measurement is running: retry in a second")
        try:
            cached = self._cached(key, ttl)  # computed by the caller we waited for
            if cached is not None:
                return cached[1]
            value = compute()
        finally:
            self._gate.release()
        if ttl > 0:
            with self._cache_lock:
                now = self.clock()
                self._cache = {k: v for k, v in self._cache.items() if now - v[0] < ttl}  # bounded by traffic of ttl
                self._cache[key] = (now, value)
        return value

    def _cached(self, key: Hashable, ttl: float) -> tuple[float, Any] | None:
        with self._cache_lock:
            entry = self._cache.get(key)
            if entry is not None and self.clock() - entry[0] < ttl:
                self.hits += 1
                return entry
        return None

    # -- the scheduled measurement -----------------------------------------------------------

    def measure(self) -> float | None:
        """Measure the drift of the fixed window now and set the gauges; return the share.

        Never raises (a failure is logged; the gauges keep their last value).
        """
        state = self.state
        reference, store = state.reference, state.store
        if reference is None or reference.engine is None or store is None:
            return None
        since = dt.datetime.now(dt.UTC) - dt.timedelta(days=state.settings.monitoring_window_days)
        try:
            with self._gate:
                report = drift_report(reference, store, since, state.settings.monitoring_max_distinct)
        except Exception as exc:
            logger.warning("the scheduled drift measurement failed: %s", exc)
            return None
        share = report["dataset"].get("share")
        if share is not None:
            state.metrics.drift_share.set(share)
        state.metrics.drift_window_rows.set(report["rows"])
        self.measured_at = dt.datetime.now(dt.UTC)
        return share

    def start(self) -> LiveMonitor:
        """Measure at once, then every interval, in a daemon thread; return ``self``."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="live-drift-measurement", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the scheduled measurement."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        interval = self.state.settings.monitoring_interval_seconds
        while not self._stop.is_set():
            self.measure()
            self._stop.wait(interval)
