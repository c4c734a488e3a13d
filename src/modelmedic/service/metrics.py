"""Prometheus metrics of the service, in a registry of its own (not the global one).

Request counts and latency histograms per route template (``/predict``, not the raw path,
so the label set stays bounded), predictions, labels received and corrected, and the drift
share of the service's own scheduled measurement (:mod:`modelmedic.service.live_monitor`).
Each server process keeps its own counters; with several gunicorn workers, scrape each
worker or set ``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class ServiceMetrics:
    """The service's Prometheus collectors."""

    def __init__(self) -> None:
        # lazy: metrics only in the service
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.registry = CollectorRegistry(auto_describe=True)
        register = None if multiprocess else self.registry
        if multiprocess:
            # lazy: metrics only in the service
            from prometheus_client import multiprocess as mp

            mp.MultiProcessCollector(self.registry)
        self.requests = Counter(
            "modelmedic_http_requests",
            "HTTP requests answered, by route, method and status.",
            ["route", "method", "status"],
            registry=register,
        )
        self.latency = Histogram(
            "modelmedic_http_request_duration_seconds",
            "Time to answer a request, by route.",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=register,
        )
        self.predictions = Counter(
            "modelmedic_predictions",
            "Predictions made and logged, by model version.",
            ["model_version"],
            registry=register,
        )
        self.feedback = Counter("modelmedic_feedback_labels", "Labels stored through /feedback.", registry=register)
        self.feedback_unknown = Counter(
            "modelmedic_feedback_unknown_ids", "Feedback ids not found in the prediction log.", registry=register
        )
        self.label_corrections = Counter(
            "modelmedic_label_corrections",
            "Labels that replaced an earlier, different label of the same prediction.",
            registry=register,
        )
        # set only by the service's scheduled measurement on a fixed window, never by a request
        self.drift_share = Gauge(
            "modelmedic_drift_share",
            "Share of drifted features over the last MODELMEDIC_MONITORING_WINDOW_DAYS days, "
            "measured by the service every MODELMEDIC_MONITORING_INTERVAL_SECONDS.",
            registry=register,
            multiprocess_mode="mostrecent",
        )
        self.drift_window_rows = Gauge(
            "modelmedic_drift_window_rows",
            "Predictions in the window of the latest scheduled drift measurement.",
            registry=register,
            multiprocess_mode="mostrecent",
        )

        self.reloads = Counter(
            "modelmedic_model_reloads",
            "Models proved and swapped in, by trigger (start, admin, signal, refresh).",
            ["trigger"],
            registry=register,
        )
        self.reload_failures = Counter(
            "modelmedic_model_reload_failures",
            "Models refused (the served one kept), by reason (untrusted, not_found, no_predict, "
            "predict_error, shape, non_finite, store) and trigger.",
            ["reason", "trigger"],
            registry=register,
        )

    def render(self) -> bytes:
        """The Prometheus text exposition of every collector."""
        # lazy: metrics only in the service
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


class MetricsMiddleware:
    """Pure ASGI middleware counting and timing every HTTP request by its route template."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = _route_template(scope)
            method = scope.get("method", "")
            self.metrics.requests.labels(route, method, str(status)).inc()
            self.metrics.latency.labels(route, method).observe(time.perf_counter() - began)


def _route_template(scope: dict[str, Any]) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"
