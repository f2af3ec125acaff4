"""The screening service: ``create_app(settings)``.

The lifespan loads the detector once (model from the settings: a name, a path, or the
default model), opens the audit store and runs its migrations, then serves. Run it
with ``audio-detect serve`` or ``uvicorn --factory audio_detect_service.main:create_app``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from audio_detect import __version__
from audio_detect.detector import Detector
from audio_detect.registry import load_model_dir

from .capacity import StreamCapacity, watch_event_loop
from .errors import install_error_handlers
from .jobs import JobRunner
from .limits import MULTIPART_OVERHEAD, BodyLimitMiddleware, ScoringPool
from .redis_jobs import RedisJobRunner
from .redis_state import RedisTokenBuckets
from .routers import analyze, apidocs, calls, console, health, models, stream, twilio
from .security import TokenBuckets, install_log_redaction
from .services import Services
from .settings import Settings
from .store import Store
from .telemetry import Metrics, RequestContextMiddleware
from .webhooks import WebhookSender

__all__ = ["create_app"]

logger = logging.getLogger(__name__)

DESCRIPTION = """\
Screens call audio for synthetic (cloned, TTS, vocoded) speech.

* `POST /v1/analyze`: a recording (multipart or raw body) -> verdict, risk tier,
  P(spoof), LLR, per-window timeline. `Prefer: respond-async` for a job.
* `WS /v1/stream` (generic) and `WS /v1/twilio` (Twilio Media Streams): live calls.
* `/v1/calls/{call_id}`, `/v1/decisions`: the audit trail.

Authenticate with `Authorization: Bearer <API key>` (create keys with
`audio-detect keys create`). Every error has the shape
`{"error": {"code", "message", "request_id"}}`. See docs/api.md.
"""


def _load(settings: Settings) -> tuple[Detector, Store]:
    model = load_model_dir(settings.model, root=settings.models_dir)
    # Concurrency comes from the scoring threads (about one per core, see Settings),
    # so each onnxruntime call stays on its caller's thread.
    detector = Detector(model, intra_op_threads=1)
    store = Store(settings.resolved_database_url)
    store.migrate()
    # With the Redis queue, queued jobs survive a restart and other workers may be
    # running theirs: only a single-process service can declare unfinished jobs dead.
    interrupted = 0 if settings.redis_url else store.fail_unfinished_jobs()
    if interrupted:
        logger.warning("marked %d unfinished job(s) from a previous run as failed", interrupted)
    purged = store.purge_expired_audio()
    if purged:
        logger.info("purged %d expired audio blob(s)", purged)
    return detector, store


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the FastAPI app (nothing is loaded until the lifespan starts).

    Parameters
    ----------
    settings : Settings, optional
        Defaults to ``Settings()`` (the ``AUDIO_DETECT_*`` environment).
    """
    settings = settings or Settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        detector, store = await run_in_threadpool(_load, settings)
        metrics.set_model(detector.model.info())
        pool = ScoringPool(
            workers=settings.max_concurrent_scoring,
            max_queued=settings.max_queued_scoring,
            on_change=metrics.scoring_inflight.set,
        )
        buckets: TokenBuckets | RedisTokenBuckets
        if settings.redis_url:  # limits and jobs shared by every worker and host
            buckets = RedisTokenBuckets(
                settings.redis_url, default_per_minute=settings.rate_limit_per_minute,
                burst=settings.burst, prefix=settings.redis_prefix,
            )  # fmt: skip
            await run_in_threadpool(buckets.ping)
        else:
            buckets = TokenBuckets(
                default_per_minute=settings.rate_limit_per_minute, burst=settings.burst
            )
        services = Services(
            settings=settings, detector=detector, store=store, pool=pool, metrics=metrics,
            buckets=buckets, webhooks=WebhookSender(settings, metrics),
        )  # fmt: skip
        if settings.stream_admit_max_utilisation > 0:
            services.stream_capacity = StreamCapacity(
                threads=settings.max_concurrent_scoring,
                max_utilisation=settings.stream_admit_max_utilisation,
            )
            metrics.watch_stream_capacity(services.stream_capacity)
        if settings.redis_url:
            runner = RedisJobRunner(
                services, settings.redis_url, consumers=settings.max_concurrent_scoring,
                prefix=settings.redis_prefix,
            )  # fmt: skip
            await runner.start()
            services.jobs = runner
        else:
            services.jobs = JobRunner(services)
        app.state.services = services
        logger.info(
            "serving model %s %s (%s) with store %s%s", detector.model.name,
            detector.model.version, detector.model.sha256[:12], store.safe_url,
            " in DEV MODE (no API keys, loopback only)" if settings.dev_mode else "",
        )  # fmt: skip
        loop_watch = (
            asyncio.create_task(watch_event_loop(services.stream_capacity))
            if services.stream_capacity is not None
            else None
        )
        try:
            yield
        finally:
            app.state.services = None
            if loop_watch is not None:
                loop_watch.cancel()
            await services.jobs.shutdown()
            if isinstance(buckets, RedisTokenBuckets):
                buckets.close()
            await services.webhooks.aclose()
            pool.shutdown()
            services.key_usage.flush(store)
            store.close()

    app = FastAPI(
        title="audio-detect screening service",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # /docs is apidocs.install's: Swagger UI from the package, no CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.services = None
    app.state.metrics = metrics
    install_error_handlers(app)
    install_log_redaction()  # ?api_key= of WebSocket URLs never reaches the logs
    for router in (health.router, analyze.router, models.router, calls.router):
        app.include_router(router)
    app.include_router(stream.router)
    app.include_router(twilio.router)
    console.install(app)  # analyst console: /console and its JSON helpers
    apidocs.install(app)  # /docs with vendored Swagger UI assets (works air-gapped)
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=settings.max_upload_bytes + MULTIPART_OVERHEAD
    )
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    return app
