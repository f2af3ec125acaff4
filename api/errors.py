"""The only place that maps errors to HTTP: one JSON error shape with a stable code.

Every error response of the service looks like::

    {"error": {"code": "audio_decode_error", "message": "...", "request_id": "..."}}

Library errors (:mod:`audio_detect.exceptions`) are mapped by class:

============================  ======  ==========================================
exception                     status  meaning
============================  ======  ==========================================
``UnsupportedFormatError``    415     container recognised, no audio stream or no decoder
``NotAudioError``             422     no known audio format detected (``not_audio``)
``EmptyAudioError``           422     zero bytes (``empty_input``)
``AudioFileNotFoundError``    422     a server-side path that does not exist
``NotAFileError``             422     a server-side path that is a directory
``AudioDecodeError``          422     corrupt or truncated audio
``AudioTooShortError``        422     well-formed audio with zero samples
``ParameterError``            422     a parameter value is invalid
``AudioTooLongError``         413     longer than ``max_audio_seconds``
``ModelNotFoundError``        404     no such model
other ``AudioDetectError``    500     (model integrity problems etc.)
============================  ======  ==========================================

Service errors raise :class:`ApiError` with their own status and code (401
``unauthorized``, 403 ``forbidden``, 413 ``payload_too_large``, 415
``unsupported_media_type``, 429 ``rate_limited``, 503 ``overloaded`` ...).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from audio_detect.exceptions import (
    AudioDecodeError,
    AudioDetectError,
    AudioFileNotFoundError,
    AudioTooLongError,
    AudioTooShortError,
    EmptyAudioError,
    ModelNotFoundError,
    NotAFileError,
    NotAudioError,
    NotEnoughSpeechError,
    ParameterError,
    UnsupportedFormatError,
)

__all__ = ["ApiError", "error_body", "install_error_handlers", "status_for"]

logger = logging.getLogger(__name__)

# Most specific first: UnsupportedFormatError and the other four subclass AudioDecodeError.
# The path errors cannot come from an upload; they are 422 (the request's input) if a
# future route takes server-side paths, never 404 (which means "no such route/resource").
_STATUS: tuple[tuple[type[AudioDetectError], int], ...] = (
    (UnsupportedFormatError, 415),
    (NotAudioError, 422),
    (EmptyAudioError, 422),
    (AudioFileNotFoundError, 422),
    (NotAFileError, 422),
    (AudioDecodeError, 422),
    (AudioTooShortError, 422),
    (NotEnoughSpeechError, 422),
    (ParameterError, 422),
    (AudioTooLongError, 413),
    (ModelNotFoundError, 404),
)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "unavailable",
}


class ApiError(Exception):
    """An error the service reports with a given status and stable code.

    Parameters
    ----------
    status : int
        HTTP status.
    code : str
        Stable machine-readable code.
    message : str
        Human-readable explanation.
    retry_after : float, optional
        Seconds; sent as a ``Retry-After`` header (rounded up).
    headers : dict, optional
        Extra response headers.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        retry_after: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        if retry_after is not None:
            self.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))


def status_for(exc: AudioDetectError) -> int:
    """HTTP status of a library error."""
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def error_body(code: str, message: str, request_id: str | None) -> dict[str, Any]:
    """The one error shape."""
    return {"error": {"code": code, "message": message, "request_id": request_id}}


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def _respond(
    request: Request, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        error_body(code, message, _request_id(request)), status_code=status, headers=headers
    )


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return _respond(request, exc.status, exc.code, exc.message, exc.headers)


async def _library_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AudioDetectError)
    status = status_for(exc)
    if status >= 500:
        logger.error("internal library error %s: %s", exc.code, exc)
    return _respond(request, status, exc.code, str(exc))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body")
        parts.append(f"{loc}: {err.get('msg')}" if loc else str(err.get("msg")))
    body = error_body("validation_error", "; ".join(parts) or "Invalid request.", None)
    body["error"]["request_id"] = _request_id(request)
    body["error"]["details"] = jsonable_encoder(
        [{k: e.get(k) for k in ("loc", "msg", "type")} for e in exc.errors()]
    )
    return JSONResponse(body, status_code=422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return _respond(request, exc.status_code, code, message, getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return _respond(request, 500, "internal_error", "Internal server error.")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that produce the one error shape."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(AudioDetectError, _library_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
