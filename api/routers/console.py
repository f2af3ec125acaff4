"""The analyst console: the page, its static assets and the JSON helpers it needs.

The console is plain HTML/CSS/JS served from ``api/static/console`` (no build step,
nothing from a CDN). Every console page and asset carries strict security headers
(a CSP without ``unsafe-inline``, ``frame-ancestors 'none'``, ``nosniff``,
``no-referrer``). Routes:

* ``GET /console``: the single page (views: analyze, decisions, call, models).
* ``GET /v1/console/config``: dev mode, limits and the loaded model (no key needed).
* ``POST /v1/analyze/spectrogram``: the recording's spectrogram at the model rate
  (librosa STFT) as a colour PNG in JSON, with the VAD's speech regions.
* ``GET /v1/decisions/{id}/spectrogram``: the same from stored audio (``STORE_AUDIO``).
* ``GET /v1/console/decisions``: recent decisions, newest first, by tier/verdict/call/date.
* ``GET /v1/console/models/{name}/det``: a model's stored DET curves in probit space.

The pictures are drawn by :mod:`audio_detect_service.console_render`, the decisions
queried by the store (:meth:`~audio_detect_service.store.Store.recent_decisions`), the
manifests read by the library's registry; this module holds only the HTTP side.
"""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.responses import Response
from starlette.types import Scope

from audio_detect.audio.io import load_audio
from audio_detect.exceptions import ModelNotFoundError, ParameterError
from audio_detect.registry import available_models, describe_model_dir, models_root

from ..console_render import det_payload, spectrogram_payload
from ..deps import AnalyzeCaller, AnyCaller, ReadCaller, ServicesDep
from ..errors import ApiError
from ..limits import payload_too_large
from ..schemas import ERROR_RESPONSES, ErrorResponse
from ..services import Services

__all__ = ["SECURITY_HEADERS", "install", "router"]

STATIC_DIR = Path(__file__).resolve().parent.parent / "static" / "console"

#: Headers of every console page and asset.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
        "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "microphone=(self), camera=(), geolocation=()",
    "Cache-Control": "no-cache",
}

router = APIRouter(tags=["console"])
_RESPONSES = {k: ERROR_RESPONSES[k] for k in (401, 403, 413, 415, 422, 429, 503)}
_RAW_TYPES = ("", "application/octet-stream")


# -- page and assets ------------------------------------------------------------------
class ConsoleStaticFiles(StaticFiles):
    """Static files with the console's security headers."""

    def file_response(
        self, full_path: Any, stat_result: Any, scope: Scope, status_code: int = 200
    ) -> Response:
        """The file, with :data:`SECURITY_HEADERS`."""
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(SECURITY_HEADERS)
        return response


@router.get("/console", include_in_schema=False)
@router.get("/console/", include_in_schema=False)
async def console_page() -> FileResponse:
    """The console's single page."""
    page = STATIC_DIR / "index.html"
    if not page.is_file():
        raise ApiError(404, "console_not_installed", "The console's files are not installed.")
    return FileResponse(page, media_type="text/html", headers=SECURITY_HEADERS)


def install(app: FastAPI) -> None:
    """Add the console routes and mount its assets at ``/console/static``."""
    app.include_router(router)
    app.mount(
        "/console/static",
        ConsoleStaticFiles(directory=STATIC_DIR, check_dir=False),
        name="console-static",
    )


# -- spectrogram ----------------------------------------------------------------------
def _spectrogram_of(services: Services, data: bytes, channel: str, max_columns: int) -> dict:
    d = services.detector
    ch = int(channel) if channel.isdigit() else channel
    audio = load_audio(
        data, sr=d.model_rate, channel=ch, max_seconds=services.settings.max_audio_seconds
    )
    out = spectrogram_payload(audio.samples, audio.sr, max_columns=max_columns, vad=d.vad)
    return {**out, "channel": channel}


async def _spectrogram(services: Services, data: bytes, channel: str, max_columns: int) -> dict:
    """:func:`_spectrogram_of` in the scoring pool (same load shedding and time limit)."""
    timeout = services.settings.request_timeout_seconds
    return await services.pool.run(
        _spectrogram_of, services, data, channel, max_columns, timeout=timeout
    )


ChannelQuery = Annotated[
    str, Query(pattern=r"^(mix|[0-9]{1,3})$", description="`mix` or a 0-based channel.")
]
ColumnsQuery = Annotated[int, Query(ge=100, le=4000, description="Most time frames kept.")]


@router.post(
    "/v1/analyze/spectrogram",
    summary="Spectrogram and speech regions of a recording (for the console)",
    responses=_RESPONSES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def analyze_spectrogram(
    request: Request,
    services: ServicesDep,
    _caller: AnalyzeCaller,
    channel: ChannelQuery = "mix",
    max_columns: ColumnsQuery = 1000,
) -> dict[str, Any]:
    """The recording (raw body, any container ``/v1/analyze`` decodes) decoded at the
    model rate like ``/v1/analyze`` does, as a log-power STFT picture and the speech
    regions the detector's VAD finds. Nothing is recorded in the audit trail."""
    settings = services.settings
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not (media in _RAW_TYPES or media.startswith(("audio/", "video/"))):
        raise ApiError(
            415, "unsupported_media_type", f"Send the recording as the raw body; got {media!r}."
        )
    chunks: list[bytes] = []
    try:
        async with asyncio.timeout(settings.request_timeout_seconds):
            async for chunk in request.stream():
                chunks.append(chunk)
    except TimeoutError as exc:
        raise ApiError(408, "request_timeout", "The body was not received in time.") from exc
    data = b"".join(chunks)
    if len(data) > settings.max_upload_bytes:
        raise payload_too_large(settings.max_upload_bytes)
    return await _spectrogram(services, data, channel, max_columns)


@router.get(
    "/v1/decisions/{decision_id}/spectrogram",
    summary="Spectrogram of a decision's stored audio",
    responses={**_RESPONSES, 404: {"model": ErrorResponse, "description": "No stored audio"}},
)
async def decision_spectrogram(
    services: ServicesDep,
    _caller: ReadCaller,
    decision_id: Annotated[str, PathParam(max_length=64)],
    channel: ChannelQuery = "mix",
    max_columns: ColumnsQuery = 1000,
) -> dict[str, Any]:
    """Only while the decision's audio is stored (``STORE_AUDIO``, within retention)."""
    blob = await run_in_threadpool(services.store.get_audio, decision_id)
    if blob is None:
        raise ApiError(
            404,
            "audio_not_stored",
            f"No stored audio for decision {decision_id!r} (STORE_AUDIO is off, "
            "the retention expired, or the decision does not exist).",
        )
    return await _spectrogram(services, blob.data, channel, max_columns)


# -- config, recent decisions ---------------------------------------------------------
class ConsoleConfig(BaseModel):
    """What the console needs to know before the first call."""

    dev_mode: bool
    max_upload_bytes: int
    max_audio_seconds: float
    model: dict[str, str]
    prior: float
    thresholds: dict[str, float]
    top_k: int


@router.get("/v1/console/config", response_model=ConsoleConfig, summary="Console settings")
async def console_config(services: ServicesDep) -> dict[str, Any]:
    """Dev mode (no key needed), upload limits and the loaded model (no key needed)."""
    d = services.detector
    return {
        "dev_mode": services.settings.dev_mode,
        "max_upload_bytes": services.settings.max_upload_bytes,
        "max_audio_seconds": services.settings.max_audio_seconds,
        "model": d.info,
        "prior": d.prior,
        "top_k": d.window.top_k,
        "thresholds": {"medium": d.thresholds.medium, "high": d.thresholds.high},
    }


def _aware(ts: datetime | None) -> datetime | None:
    if ts is None:
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _decode_before(cursor: str) -> tuple[datetime, str]:
    try:
        ts, _, last_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return _aware(datetime.fromisoformat(ts)), last_id  # type: ignore[return-value]
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParameterError.invalid("before", "a next_before value", cursor[:40]) from exc


@router.get("/v1/console/decisions", summary="Recent decisions, newest first", responses=_RESPONSES)
async def recent_decisions(
    services: ServicesDep,
    _caller: ReadCaller,
    tier: Literal["low", "medium", "high", "not_enough_speech"] | None = None,
    verdict: Literal["bonafide", "spoof", "not_enough_speech"] | None = None,
    call_id: Annotated[str | None, Query(max_length=128)] = None,
    since: Annotated[datetime | None, Query(description="ISO 8601; inclusive.")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601; exclusive.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    """Summaries (no timeline); pass ``next_before`` as ``before`` for older ones."""
    items = await run_in_threadpool(
        services.store.recent_decisions,
        equal={"tier": tier, "verdict": verdict, "call_id": call_id or None},
        since=_aware(since), until=_aware(until), limit=limit,
        before=_decode_before(before) if before else None,
    )  # fmt: skip
    last = items[-1] if len(items) == limit else None
    cursor = (
        base64.urlsafe_b64encode(f"{last['created_at']}|{last['id']}".encode()).decode()
        if last
        else None
    )
    return {"items": items, "next_before": cursor}


# -- DET curves -----------------------------------------------------------------------
def _manifest(services: Services, name: str) -> dict[str, Any]:
    """The manifest of a model, read and validated by the registry (ModelSpec)."""
    root = services.settings.models_dir or models_root()
    if name in available_models(root):
        return describe_model_dir(root / name).manifest
    if name == services.detector.model.name:
        return services.detector.model.manifest
    raise ModelNotFoundError(f"No model named {name!r}.")


@router.get(
    "/v1/console/models/{name}/det",
    summary="A model's DET curves (probit axes) from its manifest",
    responses={**_RESPONSES, 404: {"model": ErrorResponse, "description": "No such model"}},
)
async def model_det(
    services: ServicesDep, _caller: AnyCaller, name: Annotated[str, PathParam(max_length=200)]
) -> dict[str, Any]:
    """Per evaluated condition: DET points stored by ``evaluate --update-card`` as
    ``[probit(P_fa), probit(P_miss)]``, the EER point, and the axis ticks (in %)."""
    return det_payload(await run_in_threadpool(_manifest, services, name))
