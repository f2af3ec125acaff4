"""``/v1/stream``: the generic live-scoring WebSocket protocol.

1. The client sends a JSON ``start`` message::

       {"type": "start", "encoding": "mulaw", "sample_rate": 8000, "call_id": "c-42",
        "api_key": "adk_...", "prior": 0.05, "metadata": {"agent": "7"}}

   (``encoding``: ``pcm_s16le`` | ``mulaw`` | ``alaw``; ``sample_rate``: 8000 or
   16000; the key may instead come in the ``Authorization``/``X-API-Key`` header or
   ``?api_key=``.) The server answers ``{"type": "started", ...}``.
2. The client sends binary frames of any size.
3. The server sends ``{"type": "score", ...}`` messages with the rolling call verdict
   (first after at most ``stream_first_verdict_speech_seconds`` of speech, then every
   ``stream_interval_seconds``), each sent as soon as it is scored.
   When scoring falls behind the call (audio older than ``stream_max_lag_seconds``
   waiting), the server sends ``{"type": "degraded", "reason": "scoring_backlog",
   "lag_seconds", "message"}`` once, scores the backlog in catch-up mode (fewer
   verdicts), and ``{"type": "recovered"}`` when it is back in time.
4. On ``{"type": "stop"}`` (or an idle timeout, or ``stream_max_seconds``) the server
   sends ``{"type": "final", ...}`` with the timeline and ``decision_id`` and closes
   (1000). A disconnect without ``stop`` still records the final decision.

Errors are ``{"type": "error", "error": {"code", "message", "request_id"}}`` followed
by a close: 1008 (auth/limits), 1003 (bad start message or data), 1013 (too many
streams / overloaded), 1011 (internal error).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import MutableMapping
from typing import Any, Literal, NoReturn

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from audio_detect.constants import STREAM_INPUT_RATES
from audio_detect.exceptions import AudioDetectError
from audio_detect.streaming import StreamUpdate

from ..deps import authenticate, presented_key
from ..errors import ApiError
from ..live import LiveSession, score_message
from ..services import Services, thresholds_from

logger = logging.getLogger(__name__)

router = APIRouter(tags=["live"])

MAX_FRAME_BYTES = 1 << 20


class StreamStart(BaseModel):
    """The first message of ``/v1/stream``."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["start"]
    encoding: Literal["pcm_s16le", "mulaw", "alaw"]
    #: The input rate of the frames: one of STREAM_INPUT_RATES (8000, 16000).
    sample_rate: Literal[STREAM_INPUT_RATES]  # type: ignore[valid-type]
    call_id: str | None = Field(None, max_length=128, pattern=r"^[\w.:@+-]+$")
    api_key: str | None = Field(None, max_length=200)
    prior: float | None = Field(None, gt=0, lt=1)
    threshold_medium: float | None = None
    threshold_high: float | None = None
    metadata: dict[str, Any] | None = None


class StreamClosedError(Exception):
    """Raised to end a stream with a close code after an error message."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


async def send_error(
    websocket: WebSocket, code: str, message: str, request_id: str | None, close: int
) -> None:
    """Send the error message and close (best effort)."""
    try:
        await websocket.send_json(
            {"type": "error", "error": {"code": code, "message": message, "request_id": request_id}}
        )
        await websocket.close(close)
    except (RuntimeError, WebSocketDisconnect):  # already closed by the peer
        pass


async def receive(websocket: WebSocket, timeout: float) -> dict[str, Any] | None:
    """The next ASGI message, or None on idle timeout (one-off reads; loops use IdleReceiver)."""
    try:
        return await asyncio.wait_for(websocket.receive(), timeout)
    except TimeoutError:
        return None


class IdleReceiver:
    """``await receiver()``: the next ASGI message, or None after ``timeout`` s without one.

    Same answers as :func:`receive`, for the audio loops: ``asyncio.wait_for`` creates a
    task and a timer for every message, i.e. 50 of each per second per call with 20 ms
    frames. Here one timer covers a whole idle period: it fires ``timeout`` after the
    start of the wait in progress when it was armed; if that wait has ended since, it is
    re-armed for the current wait (or left off while the caller is not waiting), and it
    cancels the wait only when that wait really lasted ``timeout``.
    """

    def __init__(self, websocket: WebSocket, timeout: float) -> None:
        self.websocket = websocket
        self.timeout = timeout
        self._loop = asyncio.get_running_loop()
        self._since = 0.0  # start of the wait in progress
        self._waiter: asyncio.Task[Any] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._expired = False

    async def __call__(self) -> MutableMapping[str, Any] | None:
        self._since = self._loop.time()
        self._waiter = asyncio.current_task()
        if self._timer is None:
            self._timer = self._loop.call_at(self._since + self.timeout, self._check)
        try:
            return await self.websocket.receive()
        except asyncio.CancelledError:
            if not self._expired:
                raise
            self._expired = False
            assert self._waiter is not None
            if self._waiter.uncancel() > 0:  # also cancelled from elsewhere
                raise
            return None
        finally:
            self._waiter = None

    def _check(self) -> None:
        self._timer = None
        if self._waiter is None:  # between two waits: the next one re-arms the timer
            return
        deadline = self._since + self.timeout
        if self._loop.time() >= deadline:
            self._expired = True
            self._waiter.cancel()
        else:
            self._timer = self._loop.call_at(deadline, self._check)

    def close(self) -> None:
        """Drop the timer (idempotent)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def services_of(websocket: WebSocket) -> Services | None:
    """The app's services (None while starting)."""
    return getattr(websocket.app.state, "services", None)


class StreamSlot:
    """Counts an open stream against ``max_streams`` (async context manager), and turns
    a new one away while the open calls' scoring is behind
    (``stream_admit_max_degraded_share``) or when one more call would exceed the
    worker's measured capacity (``stream_admit_max_utilisation``, ``api/capacity.py``)."""

    def __init__(self, services: Services, protocol: str) -> None:
        self.services = services
        self.protocol = protocol

    async def __aenter__(self) -> StreamSlot:
        s = self.services
        if s.open_streams >= s.settings.max_streams:
            s.metrics.rejected.labels("streams_full").inc()
            raise ApiError(503, "too_many_streams", "Too many concurrent streams.", retry_after=5)
        calls = s.live_calls.values()
        degraded = sum(1 for c in calls if c.degraded)
        if degraded and degraded > s.settings.stream_admit_max_degraded_share * len(calls):
            self._refuse(
                "streams_degraded",
                f"Scoring is behind on {degraded} of {len(calls)} live calls here",
            )
        if s.stream_capacity is not None and not s.stream_capacity.admits(s.open_streams):
            self._refuse(
                "streams_capacity",
                f"This server is at its measured capacity of {s.stream_capacity.calls} live calls",
            )
        s.open_streams += 1
        s.metrics.streams.labels(self.protocol).inc()
        return self

    def _refuse(self, reason: str, why: str) -> NoReturn:
        """Count the refusal and raise the 503 ``overloaded`` (close 1013)."""
        self.services.metrics.rejected.labels(reason).inc()
        raise ApiError(
            503, "overloaded", f"{why}; retry shortly or on another server.", retry_after=5
        )

    async def __aexit__(self, *exc: object) -> None:
        self.services.open_streams -= 1
        self.services.metrics.streams.labels(self.protocol).dec()


@router.websocket("/v1/stream")
async def stream(websocket: WebSocket) -> None:
    """Generic live scoring (see the module docstring for the protocol)."""
    await websocket.accept()
    request_id = websocket.scope.get("state", {}).get("request_id")
    services = services_of(websocket)
    if services is None:
        await send_error(websocket, "not_ready", "The service is starting.", request_id, 1013)
        return
    try:
        async with StreamSlot(services, "stream"):
            await _serve(websocket, services, request_id)
    except ApiError as exc:
        close = 1013 if exc.status == 503 else 1008
        await send_error(websocket, exc.code, exc.message, request_id, close)
    except StreamClosedError:
        pass
    except WebSocketDisconnect:
        pass
    except Exception:
        logger.exception("stream %s crashed", request_id)
        await send_error(websocket, "internal_error", "Internal server error.", request_id, 1011)


async def _start(websocket: WebSocket, services: Services, request_id: str | None) -> StreamStart:
    msg = await receive(websocket, services.settings.stream_idle_timeout_seconds)
    if msg is None or msg["type"] == "websocket.disconnect":
        raise StreamClosedError(1000)
    try:
        if msg.get("text") is None:
            raise ValueError("the first message must be a JSON 'start' message")
        return StreamStart.model_validate(json.loads(msg["text"]))
    except (ValueError, ValidationError) as exc:
        text = (
            str(exc).splitlines()[0]
            if not isinstance(exc, ValidationError)
            else "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
        )
        await send_error(websocket, "invalid_start", text, request_id, 1003)
        raise StreamClosedError(1003) from exc


async def _serve(websocket: WebSocket, services: Services, request_id: str | None) -> None:
    start = await _start(websocket, services, request_id)
    key = presented_key(websocket, allow_query=True) or start.api_key
    principal = await authenticate(websocket, services, "analyze", key)
    try:
        thresholds = thresholds_from(
            start.threshold_medium, start.threshold_high, services.detector
        )
    except AudioDetectError as exc:
        await send_error(websocket, exc.code, str(exc), request_id, 1003)
        raise StreamClosedError(1003) from exc
    stream_id = uuid.uuid4().hex
    call_id = start.call_id or stream_id
    client = {"user_agent": websocket.headers.get("user-agent", "")[:200], "stream_id": stream_id}
    if start.metadata:
        client["metadata"] = start.metadata
    ids = {"call_id": call_id, "stream_id": stream_id}

    async def send_scores(updates: list[StreamUpdate]) -> None:
        # A verdict leaves when its flush is scored, not with the next audio frame.
        for update in updates:
            await websocket.send_json(score_message("score", update, **ids))

    session = LiveSession(
        services, protocol="stream", call_id=call_id, stream_id=stream_id,
        encoding=start.encoding, sample_rate=start.sample_rate, principal=principal,
        client=client, prior=start.prior, thresholds=thresholds, request_id=request_id,
        on_updates=send_scores,
    )  # fmt: skip
    try:
        await websocket.send_json({
            "type": "started", **ids, "request_id": request_id, "model": services.detector.info,
            "encoding": start.encoding, "sample_rate": start.sample_rate,
            "interval_seconds": services.settings.stream_interval_seconds,
            "first_verdict_speech_seconds": session.scorer.first_speech,
            "max_seconds": services.settings.stream_max_seconds,
        })  # fmt: skip
        reason = await _pump(websocket, services, session, ids)
    except WebSocketDisconnect:
        reason = "disconnect"
    except BaseException:  # cancelled (server shutdown, peer gone): still record the call
        await asyncio.shield(session.finish())
        raise
    # Shielded: a peer that vanished (or a server cancelling the handler) must not
    # lose the call's final decision.
    rolling, final, decision_id = await asyncio.shield(session.finish())
    if reason == "disconnect":
        return
    for update in rolling:  # verdicts of the last flush come before the final one
        await websocket.send_json(score_message("score", update, **ids))
    await websocket.send_json(
        score_message("final", final, **ids, decision_id=decision_id, reason=reason)
    )
    await websocket.close(1000)


async def _pump(
    websocket: WebSocket, services: Services, session: LiveSession, ids: dict[str, str]
) -> str:
    """Receive audio until stop/idle/limit/disconnect; return why it ended."""
    receiver = IdleReceiver(websocket, services.settings.stream_idle_timeout_seconds)
    try:
        return await _pump_messages(websocket, session, ids, receiver)
    finally:
        receiver.close()


async def _pump_messages(
    websocket: WebSocket, session: LiveSession, ids: dict[str, str], receiver: IdleReceiver
) -> str:
    while True:
        msg = await receiver()
        if msg is None:
            return "idle_timeout"
        if msg["type"] == "websocket.disconnect":
            return "disconnect"
        data = msg.get("bytes")
        if data is not None:
            if len(data) > MAX_FRAME_BYTES:
                await send_error(
                    websocket, "frame_too_large", f"Frames must be <= {MAX_FRAME_BYTES} bytes.",
                    session.request_id, 1009,
                )  # fmt: skip
                return "disconnect"
            for update in await session.feed(data):
                await websocket.send_json(score_message("score", update, **ids))
            for event in session.take_events():  # degraded / recovered (back-pressure)
                await websocket.send_json({**event, **ids})
            if session.limit_reached:
                return "stream_max_seconds"
            continue
        try:
            event = json.loads(msg.get("text") or "")
        except ValueError:
            event = None
        kind = event.get("type") if isinstance(event, dict) else None
        if kind == "stop":
            return "stop"
        if kind == "ping":
            await websocket.send_json({"type": "pong", **ids})
            continue
        await websocket.send_json({
            "type": "error",
            "error": {"code": "protocol_error", "request_id": session.request_id,
                      "message": "Expected binary audio frames or a 'stop' message."},
        })  # fmt: skip
