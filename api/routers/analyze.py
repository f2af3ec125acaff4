"""``POST /v1/analyze`` (sync or async) and ``GET /v1/jobs/{job_id}``."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from audio_detect.constants import TELEPHONY_RATE

from ..deps import AnalyzeCaller, ServicesDep
from ..errors import ApiError
from ..jobs import job_view
from ..limits import payload_too_large
from ..schemas import (
    ERROR_RESPONSES,
    AnalyzeParams,
    AnalyzeResponse,
    ErrorResponse,
    JobAccepted,
    JobOut,
)

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["analyze"])

_FORM_FIELDS = {
    name: {"type": "string"} for name in (
        "call_id", "channel", "prior", "threshold_medium", "threshold_high", "encoding",
        "sample_rate", "channels", "async", "callback_url", "metadata", "timeline",
    )
}  # fmt: skip
_OPENAPI_BODY = {
    "requestBody": {
        "required": True,
        "description": "The recording: a multipart upload (field `file`), or the raw body "
        "(any container the loader decodes, sent as `application/octet-stream` or `audio/*`; "
        "headerless PCM16/G.711 with `encoding` and `sample_rate`). Parameters go in the "
        "query string, or as form fields of the multipart upload.",
        "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}, **_FORM_FIELDS},
                }
            },
        },
    }
}
_RAW_TYPES = ("", "application/octet-stream")


def _wants_async(prefer: str | None, params: AnalyzeParams) -> bool:
    if params.async_:
        return True
    tokens = [t.strip().lower() for t in (prefer or "").replace(";", ",").split(",")]
    return "respond-async" in tokens


async def _read_body(request: Request, timeout: float) -> bytes:
    chunks: list[bytes] = []
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                chunks.append(chunk)
    except TimeoutError as exc:
        raise ApiError(408, "request_timeout", "The body was not received in time.") from exc
    return b"".join(chunks)


async def _read_multipart(
    request: Request, params: AnalyzeParams, timeout: float
) -> tuple[bytes, str, AnalyzeParams]:
    form = None
    try:
        async with asyncio.timeout(timeout):
            form = await request.form(max_files=1, max_fields=32, max_part_size=64 * 1024)
            upload = form.get("file") or form.get("audio")
            if not isinstance(upload, UploadFile):
                raise ApiError(422, "missing_file", "The multipart body needs a 'file' part.")
            data = await upload.read()
    except TimeoutError as exc:
        raise ApiError(408, "request_timeout", "The body was not received in time.") from exc
    finally:  # spooled temporary files are closed (deleted) on every path, errors included
        if form is not None:
            await form.close()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    if fields:
        merged = {**params.model_dump(by_alias=True, exclude_unset=True), **fields}
        try:
            params = AnalyzeParams.model_validate(merged)
        except ValidationError as exc:
            raise RequestValidationError(exc.errors()) from exc
    return data, upload.content_type or "application/octet-stream", params


@router.post(
    "/analyze",
    response_model=AnalyzeResponse,
    status_code=200,
    summary="Score a recording",
    openapi_extra=_OPENAPI_BODY,
    responses={
        202: {"model": JobAccepted, "description": "Accepted as an asynchronous job"},
        **ERROR_RESPONSES,
    },
)
async def analyze(
    request: Request,
    services: ServicesDep,
    caller: AnalyzeCaller,
    params: Annotated[AnalyzeParams, Query()],
    prefer: Annotated[str | None, Header(max_length=200)] = None,
) -> Any:
    """Verdict, risk tier, P(spoof), LLR, speech seconds, per-window timeline, model
    name/version/sha and processing time for one recording. With ``Prefer:
    respond-async`` (or ``?async=true``) the answer is ``202`` with a job id instead."""
    settings = services.settings
    # Shed before reading the body: a saturated server answers 503 at once rather than
    # first reading up to max_upload_bytes per request into memory.
    if not _wants_async(prefer, params):
        services.pool.check_capacity()
    elif services.jobs is not None and services.jobs.pending >= settings.max_jobs:
        raise ApiError(503, "overloaded", "Too many analysis jobs pending.", retry_after=5)
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";")[0].strip().lower()
    if media == "multipart/form-data":
        data, content_type, params = await _read_multipart(
            request, params, settings.request_timeout_seconds
        )
    elif media in _RAW_TYPES or media.startswith(("audio/", "video/")):
        data = await _read_body(request, settings.request_timeout_seconds)
        if media in ("audio/basic", "audio/pcmu") and params.encoding is None:
            params = params.model_copy(update={"encoding": "mulaw", "sample_rate": TELEPHONY_RATE})
    else:
        raise ApiError(
            415, "unsupported_media_type",
            f"Send audio as multipart/form-data, application/octet-stream or audio/*; "
            f"got {media or 'no content type'!r}.",
        )  # fmt: skip
    if len(data) > settings.max_upload_bytes:
        raise payload_too_large(settings.max_upload_bytes)
    client = {"user_agent": request.headers.get("user-agent", "")[:200]}
    item = services.prepare(data, content_type or "application/octet-stream", params, client)
    request_id = getattr(request.state, "request_id", None)
    if _wants_async(prefer, params):
        if services.jobs is None:
            raise ApiError(503, "not_ready", "The job runner is not running.", retry_after=5)
        job_id = await services.jobs.submit(item, principal=caller, request_id=request_id)
        href = str(request.url_for("get_job", job_id=job_id).path)
        body = JobAccepted(job_id=job_id, status="queued", href=href).model_dump()
        headers = {"Location": href, "Preference-Applied": "respond-async"}
        return JSONResponse(body, status_code=202, headers=headers)
    return await services.analyze(
        item, principal=caller, request_id=request_id, kind="analyze",
        timeout=settings.request_timeout_seconds,
    )  # fmt: skip


@router.get(
    "/jobs/{job_id}",
    response_model=JobOut,
    summary="State and result of an asynchronous analysis",
    responses={
        404: {"model": ErrorResponse, "description": "Unknown job"},
        **{k: ERROR_RESPONSES[k] for k in (401, 403, 429)},
    },
)
async def get_job(
    services: ServicesDep,
    caller: AnalyzeCaller,
    job_id: Annotated[str, Path(max_length=64)],
) -> dict[str, Any]:
    """``queued``/``running``/``done``/``failed``; ``result`` when done, ``error`` when failed.
    A key sees its own jobs (keys with the ``read`` scope see all)."""
    row = await run_in_threadpool(services.store.get_job, job_id)
    visible = row is not None and (
        caller.key_id is None or row["api_key_id"] == caller.key_id or "read" in caller.scopes
    )
    if not visible:
        raise ApiError(404, "job_not_found", f"No job with id {job_id!r}.")
    return job_view(row)
