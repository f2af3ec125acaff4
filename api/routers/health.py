"""``/healthz`` (process up), ``/readyz`` (model loaded, store reachable), ``/metrics``."""

from __future__ import annotations

import logging
import os
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..deps import authenticate, presented_key
from ..errors import ApiError
from ..schemas import ERROR_RESPONSES, Health, Ready

logger = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Liveness: the process is up")
async def healthz() -> dict[str, Any]:
    """Always 200 while the process serves requests (no key needed); ``pid`` tells the
    workers of ``audio-detect serve --workers N`` apart."""
    return {"status": "ok", "pid": os.getpid()}


@router.get(
    "/readyz",
    response_model=Ready,
    summary="Readiness: model loaded and audit store reachable",
    responses={503: ERROR_RESPONSES[503]},
)
async def readyz(request: Request) -> dict[str, object]:
    """200 when the detector is loaded and the store answers, else 503 ``not_ready``."""
    services = getattr(request.app.state, "services", None)
    if services is None:
        raise ApiError(503, "not_ready", "The model is not loaded yet.", retry_after=5)
    if not await run_in_threadpool(services.store.ping):
        raise ApiError(503, "store_unavailable", "The audit store is not reachable.", retry_after=5)
    return {"status": "ready", "model": services.detector.info, "store": services.store.dialect}


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {}}},
        **{k: ERROR_RESPONSES[k] for k in (401, 403, 429)},
    },
)
async def metrics(request: Request) -> Response:
    """Prometheus text format; needs a ``read`` key unless ``metrics_public`` is set."""
    services = getattr(request.app.state, "services", None)
    if services is None:
        raise ApiError(503, "not_ready", "The service is starting.", retry_after=5)
    if not services.settings.metrics_public:
        await authenticate(request, services, "read", presented_key(request))
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)
