"""The objects one app instance shares (built once in the lifespan) and the analysis core.

:class:`Services` holds the settings, the loaded :class:`Detector`, the audit store,
the scoring pool, metrics, rate limiter, job runner, webhook sender and the registry
of live calls. Routers reach it through :mod:`audio_detect_service.deps`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from fastapi.concurrency import run_in_threadpool

from audio_detect.audio.io import RawFormat
from audio_detect.calibration import TierThresholds
from audio_detect.detector import Decision, Detector
from audio_detect.exceptions import ParameterError

from .capacity import StreamCapacity
from .limits import ScoringPool
from .redis_state import RedisTokenBuckets
from .schemas import AnalyzeParams
from .security import KeyUsage, Principal, TokenBuckets
from .settings import Settings
from .store import Store
from .store.tables import utcnow
from .telemetry import Metrics
from .webhooks import WebhookSender

__all__ = ["LiveCall", "Services", "decision_payload", "thresholds_from"]

logger = logging.getLogger(__name__)


class JobQueue(Protocol):
    """What the service needs of :class:`.jobs.JobRunner` (not imported here: the job
    runner builds on this module, so this module must not import it)."""

    @property
    def pending(self) -> int:  # pragma: no cover - protocol
        """Jobs queued or running."""
        ...

    async def submit(
        self, item: AnalysisInput, *, principal: Principal, request_id: str | None
    ) -> str:  # pragma: no cover - protocol
        """Start a job; return its id."""
        ...

    async def shutdown(self, timeout: float = 10.0) -> None:  # pragma: no cover - protocol
        """Cancel and wait for the running jobs."""
        ...


@dataclass
class LiveCall:
    """A call currently streaming (shown by ``GET /v1/calls/{call_id}``)."""

    call_id: str
    protocol: str
    stream_id: str
    started_at: datetime = field(default_factory=utcnow)
    audio_seconds: float = 0.0
    latest: dict[str, Any] | None = None
    degraded: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "protocol": self.protocol, "stream_id": self.stream_id,
            "started_at": self.started_at.isoformat(),
            "audio_seconds": round(self.audio_seconds, 3), "latest": self.latest,
            "degraded": self.degraded,
        }  # fmt: skip


def decision_payload(decision: Decision, *, timeline: bool = True) -> dict[str, Any]:
    """A :class:`Decision` as the API's decision body (``windows`` -> ``timeline``)."""
    d = decision.to_dict()
    windows = d.pop("windows")
    d["timeline"] = windows if timeline else None
    return d


def thresholds_from(
    params_medium: float | None, params_high: float | None, detector: Detector
) -> TierThresholds | None:
    """Per-request tier thresholds (a missing one comes from the model)."""
    if params_medium is None and params_high is None:
        return None
    base = detector.thresholds
    return TierThresholds(
        medium=base.medium if params_medium is None else params_medium,
        high=base.high if params_high is None else params_high,
    )


def parse_metadata(text: str | None) -> dict[str, Any]:
    """Client metadata: a JSON object given as a string."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParameterError.invalid("metadata", "a JSON object", text[:80]) from exc
    if not isinstance(value, dict):
        raise ParameterError.invalid("metadata", "a JSON object", type(value).__name__)
    return value


@dataclass
class AnalysisInput:
    """A validated upload, ready to score (sync request or job)."""

    data: bytes
    content_type: str
    params: AnalyzeParams
    raw: RawFormat | None
    channel: str | int
    thresholds: TierThresholds | None
    client: dict[str, Any]
    sha256: str = ""

    def __post_init__(self) -> None:
        self.sha256 = hashlib.sha256(self.data).hexdigest()


@dataclass
class Services:
    """Everything an app instance shares."""

    settings: Settings
    detector: Detector
    store: Store
    pool: ScoringPool
    metrics: Metrics
    buckets: TokenBuckets | RedisTokenBuckets
    webhooks: WebhookSender
    jobs: JobQueue | None = None
    key_usage: KeyUsage = field(default_factory=KeyUsage)
    live_calls: dict[str, LiveCall] = field(default_factory=dict)
    open_streams: int = 0
    stream_capacity: StreamCapacity | None = None

    # -- analysis -----------------------------------------------------------------------
    def prepare(
        self, data: bytes, content_type: str, params: AnalyzeParams, client: dict[str, Any]
    ) -> AnalysisInput:
        """Validate parameters that do not need the audio (raises ParameterError)."""
        raw = None
        if params.encoding is not None or params.sample_rate is not None:
            if params.encoding is None or params.sample_rate is None:
                raise ParameterError(
                    "Headerless audio needs both 'encoding' and 'sample_rate'. Got "
                    f"encoding={params.encoding!r}, sample_rate={params.sample_rate!r}."
                )
            raw = RawFormat(params.encoding, params.sample_rate, params.channels)
        channel: str | int = int(params.channel) if params.channel.isdigit() else params.channel
        thresholds = thresholds_from(params.threshold_medium, params.threshold_high, self.detector)
        meta = parse_metadata(params.metadata)
        return AnalysisInput(
            data=data, content_type=content_type, params=params, raw=raw, channel=channel,
            thresholds=thresholds, client={**client, "metadata": meta} if meta else client,
        )  # fmt: skip

    def score(self, item: AnalysisInput) -> Decision:
        """CPU-bound scoring (run in the pool)."""
        return self.detector.score_file(
            item.data,
            channel=item.channel,
            max_seconds=self.settings.max_audio_seconds,
            raw=item.raw,
            prior=item.params.prior,
            thresholds=item.thresholds,
        )

    async def analyze(
        self, item: AnalysisInput, *, principal: Principal, request_id: str | None,
        kind: str, timeout: float, shed: bool = True,
    ) -> dict[str, Any]:  # fmt: skip
        """Score, record in the audit store, count; return the API response body."""
        started = utcnow()
        decision = await self.pool.run(self.score, item, timeout=timeout, shed=shed)
        payload = decision_payload(decision)
        decision_id = await run_in_threadpool(
            self.record,
            payload,
            kind=kind,
            principal=principal,
            request_id=request_id,
            call_id=item.params.call_id,
            audio_sha256=item.sha256,
            client=item.client,
            started_at=started,
            audio=item.data if self.settings.store_audio else None,
            content_type=item.content_type,
        )
        self.metrics.observe_decision(kind, payload)
        if not item.params.timeline:
            payload["timeline"] = None
        return {
            "decision_id": decision_id, "request_id": request_id,
            "call_id": item.params.call_id, "audio_sha256": item.sha256, **payload,
        }  # fmt: skip

    def record(
        self, payload: dict[str, Any], *, kind: str, principal: Principal | None,
        request_id: str | None, call_id: str | None, audio_sha256: str | None,
        client: dict[str, Any], started_at: datetime | None = None, audio: bytes | None = None,
        content_type: str = "application/octet-stream",
    ) -> str:  # fmt: skip
        """Write one decision to the audit store; return its id."""
        audio_meta = payload.get("audio") or {}
        model = payload["model"]
        record = {
            "kind": kind, "request_id": request_id, "call_id": call_id,
            "api_key_id": principal.key_id if principal else None,
            "started_at": started_at, "audio_sha256": audio_sha256,
            "duration": payload["duration"], "speech_seconds": payload["speech_seconds"],
            "codec": audio_meta.get("codec"), "container": audio_meta.get("container"),
            "sample_rate": audio_meta.get("source_sr"), "channels": audio_meta.get("channels"),
            "model_name": model["name"], "model_version": model["version"],
            "model_sha256": model["sha256"], "verdict": payload["verdict"],
            "tier": payload["tier"], "p_spoof": payload["p_spoof"], "llr": payload["llr"],
            "score": payload["score"], "prior": payload["prior"],
            "thresholds": payload["thresholds"], "timeline": payload.get("timeline") or [],
            "client": client, "processing_ms": payload["processing_ms"],
        }  # fmt: skip
        retention = timedelta(days=self.settings.audio_retention_days)
        return self.store.add_decision(
            record, audio=audio, content_type=content_type, retention=retention
        )
