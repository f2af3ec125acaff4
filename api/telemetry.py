"""Prometheus metrics of one app instance (its own registry, so tests can build many apps)."""

from __future__ import annotations

import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from .capacity import StreamCapacity

__all__ = ["Metrics", "RequestContextMiddleware"]

logger = logging.getLogger(__name__)

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """The service's metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "audio_detect_http_requests", "HTTP requests by route, method and status.",
            ["route", "method", "status"], registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "audio_detect_http_request_duration_seconds", "HTTP request latency.",
            ["route", "method", "status"], buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.audio_seconds = Counter(
            "audio_detect_audio_seconds_scored", "Seconds of audio scored, by source.",
            ["source"], registry=r,
        )  # fmt: skip
        self.speech_seconds = Counter(
            "audio_detect_speech_seconds_scored", "Seconds of speech scored, by source.",
            ["source"], registry=r,
        )  # fmt: skip
        self.verdicts = Counter(
            "audio_detect_verdicts", "Decisions by verdict, tier and source.",
            ["verdict", "tier", "source"], registry=r,
        )  # fmt: skip
        self.model_info = Gauge(
            "audio_detect_model_info", "The loaded model (value 1).",
            ["name", "version", "sha256", "format", "sample_rate"], registry=r,
        )  # fmt: skip
        self.streams = Gauge(
            "audio_detect_active_streams", "Open WebSocket streams.", ["protocol"], registry=r
        )
        self.scoring_inflight = Gauge(
            "audio_detect_scoring_inflight", "Scoring tasks running or queued.", registry=r
        )
        self.stream_capacity = Gauge(
            "audio_detect_stream_capacity_calls",
            "Live calls this worker keeps up with, by the measured cost of live audio "
            "(-1 until measured).",
            registry=r,
        )  # fmt: skip
        self.rejected = Counter(
            "audio_detect_rejected", "Requests refused by a limit.", ["reason"], registry=r
        )
        self.webhooks = Counter(
            "audio_detect_webhook_deliveries", "Webhook/callback deliveries by outcome.",
            ["kind", "outcome"], registry=r,
        )  # fmt: skip

    def watch_stream_capacity(self, capacity: StreamCapacity) -> None:
        """Report ``capacity.calls`` at every scrape."""

        def calls() -> float:
            n = capacity.calls
            return -1.0 if n is None else float(n)

        self.stream_capacity.set_function(calls)

    def observe_decision(self, source: str, decision: dict[str, Any]) -> None:
        """Count one decision."""
        self.audio_seconds.labels(source).inc(float(decision.get("duration") or 0.0))
        self.speech_seconds.labels(source).inc(float(decision.get("speech_seconds") or 0.0))
        self.verdicts.labels(decision["verdict"], decision["tier"], source).inc()

    def set_model(self, info: dict[str, Any]) -> None:
        """Publish the loaded model."""
        self.model_info.labels(
            info["name"], info["version"], info["sha256"], info.get("format", ""),
            str(info.get("sample_rate", "")),
        ).set(1)  # fmt: skip


def _clean_request_id(value: str | None) -> str:
    if value and len(value) <= 64 and all(c.isalnum() or c in "-_.:" for c in value):
        return value
    return uuid.uuid4().hex


def _route_template(scope: Scope, path: str) -> str:
    """The template of the route that serves ``path`` (``"unmatched"`` if none does).

    FastAPI records its own routes in ``scope["route"]``; plain Starlette routes (such as
    ``/openapi.json``) and mounts (``/console/static``, ``/docs/static``) do not, so they
    are looked up here: a mount is labelled ``<mount path>/{path}``.
    """
    app = scope.get("app")
    routes = getattr(getattr(app, "router", None), "routes", None) or ()
    probe = {"type": "http", "path": path, "root_path": "", "method": scope.get("method", "GET")}
    for route in routes:
        try:
            match, _ = route.matches(probe)
        except Exception:  # a route type that cannot judge a bare scope
            continue
        if match is not Match.NONE:
            template = getattr(route, "path", "")
            if isinstance(route, Mount):
                return f"{template.rstrip('/')}/{{path}}"
            return template or "unmatched"
    return "unmatched"


class RequestContextMiddleware:
    """Pure ASGI: request id (``X-Request-ID``), per-route request counts and latency."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        request_id = _clean_request_id(headers.get(b"x-request-id", b"").decode("latin-1"))
        scope.setdefault("state", {})["request_id"] = request_id
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        status = 500
        t0 = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode("latin-1")),
                ]
            await send(message)

        request_path = scope.get("path", "")
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or _route_template(scope, request_path)
            method = scope.get("method", "GET")
            elapsed = time.perf_counter() - t0
            self.metrics.requests.labels(path, method, str(status)).inc()
            self.metrics.latency.labels(path, method, str(status)).observe(elapsed)
