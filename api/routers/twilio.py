"""``/v1/twilio``: Twilio Media Streams, exactly as Twilio sends them.

Point a TwiML ``<Stream url="wss://host/v1/twilio">`` at this route, with the API key
as a custom parameter (Twilio cannot set headers)::

    <Start><Stream url="wss://screening.example/v1/twilio">
      <Parameter name="api_key" value="adk_..."/>
      <Parameter name="call_id" value="{{CallSid}}"/>   <!-- optional -->
    </Stream></Start>

Messages handled: ``connected``, ``start`` (``mediaFormat`` must be ``audio/x-mulaw``
at 8000 Hz, mono), ``media`` (base64 µ-law ``payload``, ``chunk``, ``timestamp``,
``sequenceNumber``), ``mark``, ``dtmf`` (ignored) and ``stop``. Only the ``inbound``
track (the caller) is scored unless the custom parameter ``track`` says otherwise.
Out-of-order chunks are reordered within ``twilio_reorder_window`` chunks; missing
ones are filled with silence of the right length, late and duplicate ones dropped.

Twilio's socket carries no custom replies, so nothing is sent back: rolling
verdicts go to the live registry (``GET /v1/calls/{call_id}``) and, with
``webhook_events=all``, to the webhook; the final verdict goes to the audit trail,
``GET /v1/calls/{call_id}`` and the webhook (``webhook_url``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from audio_detect.constants import TELEPHONY_RATE

from ..deps import authenticate, presented_key
from ..errors import ApiError
from ..live import ChunkReorderer, LiveSession, score_message
from ..services import Services
from .stream import IdleReceiver, StreamSlot, receive, services_of

logger = logging.getLogger(__name__)

router = APIRouter(tags=["live"])

_SECRET_PARAMS = ("api_key",)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: JSON's Infinity
        return None


def _dict(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else ``{}`` (fields of the wrong type are ignored)."""
    return value if isinstance(value, dict) else {}


class _ProtocolError(Exception):
    """A message Twilio would never send; the stream is closed."""


@router.websocket("/v1/twilio")
async def twilio(websocket: WebSocket) -> None:
    """Twilio Media Streams (see the module docstring)."""
    await websocket.accept()
    request_id = websocket.scope.get("state", {}).get("request_id")
    services = services_of(websocket)
    if services is None:
        await websocket.close(1013)
        return
    try:
        async with StreamSlot(services, "twilio"):
            await _serve(websocket, services, request_id)
    except ApiError as exc:
        logger.warning("twilio stream refused: %s (%s)", exc.code, exc.message)
        await _close(websocket, 1013 if exc.status == 503 else 1008)
    except _ProtocolError as exc:
        logger.warning("twilio stream closed: %s", exc)
        await _close(websocket, 1003)
    except WebSocketDisconnect:
        pass
    except Exception:
        logger.exception("twilio stream %s crashed", request_id)
        await _close(websocket, 1011)


async def _close(websocket: WebSocket, code: int) -> None:
    with contextlib.suppress(RuntimeError):  # already closed
        await websocket.close(code)


async def _wait_start(websocket: WebSocket, services: Services) -> dict[str, Any] | None:
    """Skip ``connected``; return the ``start`` message (None if the socket ended)."""
    idle = services.settings.stream_idle_timeout_seconds
    while True:
        msg = await receive(websocket, idle)
        if msg is None or msg["type"] == "websocket.disconnect":
            return None
        try:
            event = json.loads(msg.get("text") or "")
        except ValueError as exc:
            raise _ProtocolError("non-JSON message before 'start'") from exc
        if not isinstance(event, dict):
            raise _ProtocolError("non-object message before 'start'")
        if event.get("event") == "start":
            return event
        if event.get("event") != "connected":
            raise _ProtocolError(f"unexpected {event.get('event')!r} before 'start'")


async def _serve(websocket: WebSocket, services: Services, request_id: str | None) -> None:
    start_msg = await _wait_start(websocket, services)
    if start_msg is None:
        return
    start = _dict(start_msg.get("start"))
    params = _dict(start.get("customParameters"))
    key = presented_key(websocket, allow_query=True) or params.get("api_key")
    principal = await authenticate(websocket, services, "analyze", key)
    fmt = _dict(start.get("mediaFormat"))
    if (
        fmt.get("encoding") != "audio/x-mulaw"
        or _int(fmt.get("sampleRate")) != TELEPHONY_RATE
        or _int(fmt.get("channels") or 1) != 1
    ):
        raise _ProtocolError(
            f"unsupported mediaFormat {fmt!r} (expected audio/x-mulaw, {TELEPHONY_RATE} Hz)"
        )
    stream_sid = str(start.get("streamSid") or start_msg.get("streamSid") or "")
    call_sid = str(start.get("callSid") or "")
    call_id = str(params.get("call_id") or call_sid or stream_sid)[:128] or request_id or "twilio"
    track = str(params.get("track") or "inbound")
    client = {
        "protocol": "twilio", "stream_sid": stream_sid, "call_sid": call_sid,
        "account_sid": start.get("accountSid"), "tracks": start.get("tracks"),
        "custom_parameters": {k: v for k, v in params.items() if k not in _SECRET_PARAMS},
        "user_agent": websocket.headers.get("user-agent", "")[:200],
    }  # fmt: skip
    session = LiveSession(
        services, protocol="twilio", call_id=call_id, stream_id=stream_sid or call_id,
        encoding="mulaw", sample_rate=TELEPHONY_RATE, principal=principal, client=client,
        request_id=request_id,
    )  # fmt: skip
    ids = {"call_id": call_id, "stream_sid": stream_sid, "call_sid": call_sid}
    reorder = ChunkReorderer(window=services.settings.twilio_reorder_window)
    try:
        reason = await _pump(websocket, services, session, reorder, track, ids)
    except WebSocketDisconnect:
        reason = "disconnect"
    except BaseException:  # cancelled (server shutdown, peer gone): still record the call
        await asyncio.shield(_finalize(services, session, reorder, ids, client, "cancelled"))
        raise
    # Shielded: Twilio hanging up (or the handler being cancelled) must not lose the verdict.
    await asyncio.shield(_finalize(services, session, reorder, ids, client, reason))
    if reason != "disconnect":
        await _close(websocket, 1000)


async def _finalize(
    services: Services, session: LiveSession, reorder: ChunkReorderer, ids: dict[str, str],
    client: dict[str, Any], reason: str,
) -> None:  # fmt: skip
    """Score what is left, record the final decision, fire the webhook."""
    try:
        for piece in reorder.flush():
            await _feed(services, session, piece, ids)
    except BaseException:
        session.close()
        raise
    client["media_stats"] = dict(reorder.stats)
    _, final, decision_id = await session.finish()
    if services.settings.webhook_url:
        services.webhooks.fire(
            services.settings.webhook_url, "call.final",
            score_message("final", final, **ids, decision_id=decision_id, reason=reason,
                          media_stats=reorder.stats),
        )  # fmt: skip


async def _feed(services: Services, session: LiveSession, data: bytes, ids: dict) -> None:
    for update in await session.feed(data):
        if services.settings.webhook_url and services.settings.webhook_events == "all":
            services.webhooks.fire(
                services.settings.webhook_url, "call.verdict", score_message("score", update, **ids)
            )
    # Back-pressure: nothing goes back on a Twilio socket, so a call the server cannot
    # keep up with is reported by webhook (call.degraded / call.recovered), always.
    for event in session.take_events():
        if services.settings.webhook_url:
            services.webhooks.fire(
                services.settings.webhook_url, f"call.{event['type']}", {**event, **ids}
            )


async def _pump(
    websocket: WebSocket, services: Services, session: LiveSession, reorder: ChunkReorderer,
    track: str, ids: dict[str, str],
) -> str:  # fmt: skip
    receiver = IdleReceiver(websocket, services.settings.stream_idle_timeout_seconds)
    try:
        return await _pump_messages(services, session, reorder, track, ids, receiver)
    finally:
        receiver.close()


async def _pump_messages(
    services: Services, session: LiveSession, reorder: ChunkReorderer, track: str,
    ids: dict[str, str], receiver: IdleReceiver,
) -> str:  # fmt: skip
    last_seq: int | None = None
    while True:
        msg = await receiver()
        if msg is None:
            return "idle_timeout"
        if msg["type"] == "websocket.disconnect":
            return "disconnect"
        try:
            event = json.loads(msg.get("text") or "")
        except ValueError:
            logger.debug("twilio: ignoring a non-JSON message")
            continue
        if not isinstance(event, dict):
            continue
        kind = event.get("event")
        seq = _int(event.get("sequenceNumber"))
        if seq is not None and last_seq is not None and seq > last_seq + 1:
            reorder.stats["sequence_gaps"] = reorder.stats.get("sequence_gaps", 0) + 1
        if seq is not None:
            last_seq = seq if last_seq is None else max(last_seq, seq)
        if kind == "stop":
            return "stop"
        if kind == "mark":
            session.live.latest = {**(session.live.latest or {}),
                                   "mark": _dict(event.get("mark")).get("name")}  # fmt: skip
            continue
        if kind != "media":
            continue  # dtmf, a repeated connected/start...
        media = _dict(event.get("media"))
        if str(media.get("track") or "inbound") != track:
            continue
        try:
            payload = base64.b64decode(media.get("payload") or "", validate=True)
        except (binascii.Error, ValueError):
            reorder.stats["bad_payload"] = reorder.stats.get("bad_payload", 0) + 1
            continue
        chunk = _int(media.get("chunk"))
        if chunk is None:
            chunk = seq if seq is not None else reorder.next_chunk
        for piece in reorder.add(chunk, _int(media.get("timestamp")), payload):
            await _feed(services, session, piece, ids)
        if session.limit_reached:
            return "stream_max_seconds"
