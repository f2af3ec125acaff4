"""``Annotated`` dependencies: settings, services, store, and the authenticated caller.

Keys are read from ``Authorization: Bearer <key>`` or ``X-API-Key: <key>`` (WebSockets
also accept ``?api_key=`` and an ``api_key`` field in their start message, since
browsers and Twilio cannot set headers). Every authenticated request takes one token
from the caller's bucket (429 ``rate_limited`` with ``Retry-After`` when empty).
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends, Request, WebSocket
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from audio_detect.detector import Detector

from .errors import ApiError
from .security import SCOPES, Principal, is_loopback, parse_key, verify_key
from .services import Services
from .settings import Settings
from .store import Store

__all__ = [
    "AnalyzeCaller",
    "AnyCaller",
    "ReadCaller",
    "ServicesDep",
    "SettingsDep",
    "StoreDep",
    "authenticate",
    "get_services",
]

logger = logging.getLogger(__name__)

DEV_PRINCIPAL_NAME = "dev-mode"
_BEARER = HTTPBearer(auto_error=False, description="`Authorization: Bearer <API key>`")
_API_KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key")


def _services_of(conn: HTTPConnection) -> Services:
    services = getattr(conn.app.state, "services", None)
    if services is None:
        raise ApiError(503, "not_ready", "The service is starting.", retry_after=5)
    return services


def get_services(request: Request) -> Services:
    """The app's :class:`Services`."""
    return _services_of(request)


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return _services_of(request).settings


def get_store(request: Request) -> Store:
    """The audit store."""
    return _services_of(request).store


def get_detector(request: Request) -> Detector:
    """The loaded detector."""
    return _services_of(request).detector


ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
DetectorDep = Annotated[Detector, Depends(get_detector)]


def presented_key(conn: HTTPConnection, *, allow_query: bool = False) -> str | None:
    """The API key of a request, if any."""
    auth = conn.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    key = conn.headers.get("x-api-key")
    if key:
        return key.strip()
    if allow_query:
        return conn.query_params.get("api_key") or None
    return None


async def authenticate(
    conn: HTTPConnection, services: Services, scope: str | None, key: str | None
) -> Principal:
    """Check a key (or dev mode), the scope and the rate limit; return the caller."""
    settings = services.settings
    client_host = conn.client.host if conn.client else None
    if settings.dev_mode:
        if not is_loopback(client_host):
            raise ApiError(
                403, "dev_mode_local_only",
                "Dev mode serves loopback clients only; use API keys for remote clients.",
            )  # fmt: skip
        principal = Principal(None, DEV_PRINCIPAL_NAME, frozenset(SCOPES))
    else:
        if not key:
            raise ApiError(
                401, "unauthorized", "An API key is required (Authorization: Bearer <key>).",
                headers={"WWW-Authenticate": "Bearer"},
            )  # fmt: skip
        found = await run_in_threadpool(verify_key, services.store, key)
        if found is None:
            services.metrics.rejected.labels("invalid_api_key").inc()
            logger.warning(
                "rejected API key (id %s) from %s on %s", parse_key(key) or "malformed",
                client_host, conn.url.path,
            )  # fmt: skip
            raise ApiError(
                401, "invalid_api_key", "The API key is invalid or revoked.",
                headers={"WWW-Authenticate": "Bearer"},
            )  # fmt: skip
        principal = found
        due = services.key_usage.note(found.key_id) if found.key_id else None
        if due is not None:  # audit of key use, batched (KeyUsage)
            await run_in_threadpool(
                services.store.record_key_use, found.key_id, uses=due[0], last_used_at=due[1]
            )
    if scope is not None and scope not in principal.scopes:
        logger.warning("key %s lacks scope %r for %s", principal.key_id, scope, conn.url.path)
        raise ApiError(403, "forbidden", f"This API key lacks the {scope!r} scope.")
    wait = services.buckets.take(
        principal.bucket if principal.key_id else f"dev:{client_host}",
        per_minute=principal.rate_limit_per_minute,
    )
    if wait > 0:
        services.metrics.rejected.labels("rate_limited").inc()
        raise ApiError(429, "rate_limited", "Too many requests for this API key.", retry_after=wait)
    return principal


def require(scope: str | None) -> object:
    """Dependency factory: the caller, who must hold ``scope`` (None = any valid key)."""

    async def dependency(
        request: Request,
        _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
        _header: Annotated[str | None, Depends(_API_KEY_HEADER)],
    ) -> Principal:
        # The two security dependencies only document the schemes in OpenAPI.
        services = _services_of(request)
        return await authenticate(request, services, scope, presented_key(request))

    return Depends(dependency)


async def websocket_services(websocket: WebSocket) -> Services:
    """The app's services, for WebSocket routes."""
    return _services_of(websocket)


AnalyzeCaller = Annotated[Principal, require("analyze")]
ReadCaller = Annotated[Principal, require("read")]
AnyCaller = Annotated[Principal, require(None)]
