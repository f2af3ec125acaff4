"""The fraud team's view of the audit trail: ``/v1/calls/{call_id}`` and ``/v1/decisions``."""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool

from audio_detect.exceptions import ParameterError

from ..deps import ReadCaller, ServicesDep
from ..errors import ApiError
from ..schemas import ERROR_RESPONSES, CallOut, DecisionOut, DecisionPage, ErrorResponse

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["audit"])
_RESPONSES = {k: ERROR_RESPONSES[k] for k in (401, 403, 422, 429)}


def _aware(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _encode_cursor(item: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(f"{item['created_at']}|{item['id']}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        ts, _, last_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return _aware(datetime.fromisoformat(ts)), last_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParameterError.invalid("cursor", "a next_cursor value", cursor[:40]) from exc


@router.get(
    "/calls/{call_id}",
    response_model=CallOut,
    responses={**_RESPONSES, 404: {"model": ErrorResponse, "description": "Unknown call id"}},
    summary="A call: live rolling verdict and recorded decisions",
)
async def get_call(
    services: ServicesDep,
    _caller: ReadCaller,
    call_id: Annotated[str, Path(max_length=128)],
) -> dict[str, Any]:
    """Decisions recorded for ``call_id`` (uploads, jobs, streams) and, while the call
    is still streaming, its latest rolling verdict."""
    decisions = await run_in_threadpool(services.store.decisions_for_call, call_id)
    live = services.live_calls.get(call_id)
    if not decisions and live is None:
        raise ApiError(404, "call_not_found", f"No call with id {call_id!r}.")
    return {
        "call_id": call_id,
        "status": "in_progress" if live is not None else "completed",
        "live": live.to_dict() if live is not None else None,
        "decisions": decisions,
    }


@router.get(
    "/decisions",
    response_model=DecisionPage,
    responses=_RESPONSES,
    summary="Decisions since a time (paginated)",
)
async def list_decisions(
    services: ServicesDep,
    _caller: ReadCaller,
    since: Annotated[datetime | None, Query(description="ISO 8601; inclusive.")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601; exclusive.")] = None,
    verdict: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    """Oldest first; follow ``next_cursor`` until it is null."""
    after = _decode_cursor(cursor) if cursor else None
    items = await run_in_threadpool(
        services.store.list_decisions,
        since=_aware(since) if since else None,
        until=_aware(until) if until else None,
        limit=limit, after=after, verdict=verdict,
    )  # fmt: skip
    return {
        "items": items,
        "next_cursor": _encode_cursor(items[-1]) if len(items) == limit else None,
    }


@router.get(
    "/decisions/{decision_id}",
    response_model=DecisionOut,
    responses={**_RESPONSES, 404: {"model": ErrorResponse, "description": "Unknown decision"}},
    summary="One recorded decision",
)
async def get_decision(
    services: ServicesDep,
    _caller: ReadCaller,
    decision_id: Annotated[str, Path(max_length=64)],
) -> dict[str, Any]:
    """The full audit record, timeline included."""
    row = await run_in_threadpool(services.store.get_decision, decision_id)
    if row is None:
        raise ApiError(404, "decision_not_found", f"No decision with id {decision_id!r}.")
    return row
