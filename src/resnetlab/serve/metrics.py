"""Prometheus metrics of one server: requests, latency, batch sizes, queue depth.

Each app gets its own :class:`prometheus_client.CollectorRegistry`, so several apps in one
process (tests, a benchmark) never mix their counts. Requests are labelled by the route's
template (``/v1/models/{model_id}/predict``), never the raw path, so a client cannot create
unbounded label values by sending odd URLs.
"""

from __future__ import annotations

import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
UNROUTED = "(unrouted)"


class Metrics:
    """The counters and histograms of one server."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("resnetlab_requests", "HTTP requests by route, method and status",
                                ("route", "method", "status"), registry=self.registry)
        self.latency = Histogram("resnetlab_request_seconds", "HTTP request latency by route",
                                 ("route",), buckets=LATENCY_BUCKETS, registry=self.registry)
        self.batch_size = Histogram("resnetlab_batch_size", "images per inference batch",
                                    ("model",), buckets=BATCH_BUCKETS, registry=self.registry)
        self.batch_seconds = Histogram("resnetlab_batch_seconds", "time to run one batch",
                                       ("model",), buckets=LATENCY_BUCKETS,
                                       registry=self.registry)
        self.queue_depth = Gauge("resnetlab_queue_depth", "predict requests waiting for a batch",
                                 ("model",), registry=self.registry)

    def add_model(self, model_id: str) -> None:
        """Show a served model's series from the start (at zero), before its first batch."""
        self.batch_size.labels(model_id)
        self.batch_seconds.labels(model_id)
        self.queue_depth.labels(model_id).set(0)

    def observe_batch(self, model_id: str, size: int, seconds: float) -> None:
        self.batch_size.labels(model_id).observe(size)
        self.batch_seconds.labels(model_id).observe(seconds)

    def set_depth(self, model_id: str, depth: int) -> None:
        self.queue_depth.labels(model_id).set(depth)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


class MetricsMiddleware:
    """ASGI middleware that counts every HTTP request by route and status and times it."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = {"code": 500}  # what a crash before any response counts as

        async def send_and_note(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = scope.get("route")
            name = getattr(route, "path", None) or UNROUTED
            self.metrics.requests.labels(name, scope.get("method", ""), str(status["code"])).inc()
            self.metrics.latency.labels(name).observe(time.perf_counter() - start)
