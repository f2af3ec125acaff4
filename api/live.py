"""Live-call plumbing shared by ``/v1/stream`` and ``/v1/twilio``.

:class:`LiveSession` wraps a :class:`~audio_detect.streaming.StreamingScorer`: it
batches small frames (the audio goes to the scorer, in the shared scoring pool, when
it completes the scorer's next check, or after at most 1 s of audio), keeps the
rolling verdict in the live-call registry, and on :meth:`LiveSession.finish` records
the final decision in the audit store.

:class:`ChunkReorderer` puts Twilio media chunks back in order: out-of-order chunks
are held in a small buffer; when the buffer is full the missing chunk is given up on
and its time is filled with µ-law silence (so the call timeline keeps its length);
late and duplicate chunks are dropped.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi.concurrency import run_in_threadpool

from audio_detect.calibration import TierThresholds
from audio_detect.constants import TELEPHONY_RATE
from audio_detect.exceptions import AudioTooLongError
from audio_detect.streaming import StreamingScorer, StreamUpdate

from .security import Principal
from .services import LiveCall, Services, decision_payload

__all__ = ["MULAW_SILENCE", "ChunkReorderer", "LiveSession"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: The µ-law byte that decodes to 0.
MULAW_SILENCE = 0xFF
#: Longest audio held back from the scorer when no check is due (see LiveSession.feed).
_HOLD_SECONDS = 1.0
_BYTES_PER_SAMPLE = {"pcm_s16le": 2, "mulaw": 1, "alaw": 1}
#: Twilio media are µ-law at the telephony rate: 8 bytes per millisecond.
_MULAW_BYTES_PER_MS = TELEPHONY_RATE * _BYTES_PER_SAMPLE["mulaw"] / 1000
#: Longest loss filled with silence for one gap.
_MAX_GAP_SECONDS = 10.0
#: The same in bytes (10 s of 8 kHz µ-law: 80 000). Without the cap a single media
#: event with ``chunk: 10000000`` made the server allocate 1.6 GB of silence (found by
#: fuzz/fuzz_stream.py; regression test in tests/reliability).
MAX_GAP_BYTES = round(_MAX_GAP_SECONDS * 1000 * _MULAW_BYTES_PER_MS)
_MAX_SKIPPED = 10_000


class LiveSession:
    """One live call being scored.

    Parameters
    ----------
    services : Services
        The app's services.
    protocol : str
        ``stream`` or ``twilio`` (the audit record's ``kind``).
    call_id, stream_id : str
        Ids for the audit trail and the live registry.
    encoding : str
        ``pcm_s16le``, ``mulaw`` or ``alaw``.
    sample_rate : int
        Rate of the incoming audio.
    principal : Principal
        The authenticated caller.
    client : dict
        Client metadata stored with the decision.
    on_updates : callable, optional
        ``async (updates) -> None``: delivers the rolling verdicts of a flush as soon as
        the scoring pool returns them (``/v1/stream`` sends them on the socket right
        away). Without it they wait for the next :meth:`feed` (up to one frame later).
        An error it raises is logged, not re-raised: scoring goes on, and a closed
        socket ends the call through the receive loop.
    """

    def __init__(
        self, services: Services, *, protocol: str, call_id: str, stream_id: str,
        encoding: str, sample_rate: int, principal: Principal, client: dict[str, Any],
        prior: float | None = None, thresholds: TierThresholds | None = None,
        request_id: str | None = None,
        on_updates: Callable[[list[StreamUpdate]], Awaitable[None]] | None = None,
    ) -> None:  # fmt: skip
        s = services.settings
        self.services = services
        self.protocol = protocol
        self.call_id = call_id
        self.stream_id = stream_id
        self.principal = principal
        self.client = client
        self.request_id = request_id
        self._on_updates = on_updates
        self.scorer = StreamingScorer(
            services.detector,
            encoding=encoding,
            sample_rate=sample_rate,
            interval_seconds=s.stream_interval_seconds,
            interval_growth=s.stream_interval_growth,
            first_verdict_speech_seconds=s.stream_first_verdict_speech_seconds,
            max_seconds=s.stream_max_seconds,
            prior=prior,
            thresholds=thresholds,
            scoring=s.stream_scoring,
        )
        self._sha = hashlib.sha256()
        self._pending = bytearray()
        self._sample_bytes = _BYTES_PER_SAMPLE[encoding]
        self._byte_rate = sample_rate * self._sample_bytes
        self._hold_bytes = max(1, int(_HOLD_SECONDS * sample_rate)) * self._sample_bytes
        # The scorer's own limit, in bytes: feed() cuts there so that the audio hash and
        # byte count cover exactly the audio scored (the scorer raises past it).
        limit_samples = int(self.scorer.max_seconds * self.scorer.input_rate)
        self._limit_bytes = limit_samples * self._sample_bytes
        self._flush_at = self._next_flush_bytes()
        self.limit_reached = False
        self.bytes_received = 0
        # Scorer calls run in pool threads; a cancelled await does not stop its thread,
        # so the lock keeps push/finish of one session strictly sequential.
        self._lock = threading.Lock()
        self._task: asyncio.Future[list[StreamUpdate]] | None = None
        self.live = LiveCall(call_id=call_id, protocol=protocol, stream_id=stream_id)
        services.live_calls[call_id] = self.live
        # Back-pressure: when the flush in the scoring pool (queueing included) is older
        # than stream_max_lag_seconds the call is told (a ``degraded`` event) and scored
        # in catch-up mode until a flush is done within half that time (``recovered``).
        self.max_lag = s.stream_max_lag_seconds
        self._inflight_since: float | None = None
        self.degraded = False
        self.degraded_events = 0
        self.max_lag_seen = 0.0
        self._events: list[dict[str, Any]] = []

    async def feed(self, data: bytes) -> list[StreamUpdate]:
        """Add audio bytes; return the rolling verdicts produced since the last call
        (none when ``on_updates`` delivers them).

        Scoring runs in the background, one flush at a time: while a flush waits for
        (or runs in) the scoring pool, new audio collects in a buffer and the caller
        goes straight back to reading its socket. (Awaiting each flush made a stream
        stop reading while uploads held the pool; the WebSocket's receive queue filled,
        its keep-alive pongs went unread and the connection died with 1011 "keepalive
        ping timeout": seen in the soak, benchmarks/soak.py.)
        """
        ready = self._collect()
        if self.limit_reached or not data:
            return ready
        room = self._limit_bytes - self.bytes_received
        if len(data) > room:  # past stream_max_seconds: keep the audio up to the limit
            data = data[:room]
            self.limit_reached = True
        self._check_lag()
        self._sha.update(data)
        self.bytes_received += len(data)
        self.live.audio_seconds = self.bytes_received / self._byte_rate
        if self.services.stream_capacity is not None:
            self.services.stream_capacity.received(len(data) / self._byte_rate)
        self._pending += data
        # Audio only goes to the scorer when it completes the scorer's next check (a
        # verdict then leaves with the frame that completed it) or after _HOLD_SECONDS:
        # each flush is a task, a hop to a pool thread and a decode, and flushing every
        # 100 ms made 300 of them per 30 s call instead of ~35, for no earlier verdict.
        if self._task is None and len(self._pending) >= self._flush_at:
            self._task = asyncio.ensure_future(self._flush())
        return ready

    @property
    def lag_seconds(self) -> float:
        """How long the flush in the scoring pool has been waiting or running (0: none).

        Audio held back on purpose (at most 1 s, until the scorer's next check) does
        not count: this is the delay the server adds beyond its batching.
        """
        since = self._inflight_since
        return 0.0 if since is None else time.monotonic() - since

    def _check_lag(self) -> None:
        lag = self.lag_seconds
        self.max_lag_seen = max(self.max_lag_seen, lag)
        if not self.degraded and lag > self.max_lag:
            self.degraded = True
            self.degraded_events += 1
            self.live.degraded = True
            self.services.metrics.rejected.labels("stream_degraded").inc()
            logger.warning("stream %s: scoring %.1f s behind; degraded", self.call_id, lag)
            self._events.append({
                "type": "degraded", "reason": "scoring_backlog", "lag_seconds": round(lag, 3),
                "message": "The server is not keeping up with this call: verdicts are late "
                "and come less often until it catches up.",
            })  # fmt: skip

    def _check_recovered(self, done_lag: float) -> None:
        """Back in time once a flush's audio was scored within half the limit."""
        if self.degraded and done_lag <= self.max_lag / 2 and self.lag_seconds <= self.max_lag / 2:
            self.degraded = False
            self.live.degraded = False
            self._events.append({"type": "recovered", "lag_seconds": round(done_lag, 3)})

    def take_events(self) -> list[dict[str, Any]]:
        """``degraded`` / ``recovered`` events since the last call (for the socket)."""
        events, self._events = self._events, []
        return events

    def _next_flush_bytes(self) -> int:
        """Pending bytes that complete the scorer's next check, at most ``_hold_bytes``."""
        need = max(1, self.scorer.input_samples_to_next_check) * self._sample_bytes
        return min(need, self._hold_bytes)

    def _collect(self) -> list[StreamUpdate]:
        """Verdicts of a finished background flush (re-raises its error)."""
        if self._task is None or not self._task.done():
            return []
        task, self._task = self._task, None
        return task.result()

    async def _flush(self) -> list[StreamUpdate]:
        chunk = bytes(self._pending)
        self._pending.clear()
        self._inflight_since = time.monotonic()
        timeout = self.services.settings.request_timeout_seconds
        try:
            updates = await self.services.pool.run(
                self._locked, self._push, chunk, self.degraded, timeout=timeout, shed=False
            )
        except AudioTooLongError:
            self.limit_reached = True
            updates = []
        finally:
            done_lag = self.lag_seconds
            self._inflight_since = None
        self._check_lag()
        self._check_recovered(done_lag)
        self._flush_at = self._next_flush_bytes()
        for update in updates:
            self.live.latest = update.to_dict(timeline=False)
        if self._on_updates is None or not updates:
            return updates
        try:
            await self._on_updates(updates)
        except Exception as exc:  # e.g. the peer is gone: the receive loop sees it
            logger.info("stream %s: verdicts not delivered: %r", self.call_id, exc)
        return []

    async def finish(self) -> tuple[list[StreamUpdate], StreamUpdate, str]:
        """Score the rest, record the final decision; return (updates, final, decision id)."""
        s = self.services
        try:
            updates: list[StreamUpdate] = []
            if self._task is not None:
                try:
                    updates = await self._task
                except Exception as exc:  # the final decision is still recorded below
                    logger.warning("stream %s: background scoring failed: %r", self.call_id, exc)
                self._task = None
            if self._pending:
                updates += await self._flush()
            final = await s.pool.run(
                self._locked, self._finish,
                timeout=s.settings.request_timeout_seconds * 10, shed=False,
            )  # fmt: skip
            payload = decision_payload(final.decision)
            if self.degraded_events:
                self.client["degraded"] = {
                    "events": self.degraded_events,
                    "max_lag_seconds": round(self.max_lag_seen, 3),
                }
            decision_id = await run_in_threadpool(
                s.record, payload, kind=self.protocol, principal=self.principal,
                request_id=self.request_id, call_id=self.call_id,
                audio_sha256=self._sha.hexdigest(), client=self.client,
                started_at=self.live.started_at,
            )  # fmt: skip
            s.metrics.observe_decision(self.protocol, payload)
        finally:
            self.close()
        return updates, final, decision_id

    def _push(self, chunk: bytes, catch_up: bool) -> list[StreamUpdate]:
        return self._timed(len(chunk) / self._byte_rate, self.scorer.push, chunk, catch_up=catch_up)

    def _finish(self) -> StreamUpdate:
        return self._timed(0.0, self.scorer.finish)

    def _timed(self, audio_seconds: float, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        """Run scorer work in this pool thread, counting its time for the capacity estimate."""
        t0 = time.perf_counter()
        try:
            return fn(*args, **kw)
        finally:
            if self.services.stream_capacity is not None:
                self.services.stream_capacity.record(
                    audio_seconds=audio_seconds, busy_seconds=time.perf_counter() - t0
                )

    def _locked(self, fn: Any, *args: Any) -> Any:
        with self._lock:
            return fn(*args)

    def close(self) -> None:
        """Leave the live registry (idempotent)."""
        if self.services.live_calls.get(self.call_id) is self.live:
            del self.services.live_calls[self.call_id]


def score_message(kind: str, update: StreamUpdate, **extra: Any) -> dict[str, Any]:
    """A ``score``/``final`` message body (``final`` carries the timeline)."""
    payload = decision_payload(update.decision, timeline=update.final)
    if not update.final:
        payload.pop("timeline")
        payload["n_windows"] = len(update.decision.windows)
    return {"type": kind, **extra, "seq": update.seq,
            "audio_seconds": round(update.audio_seconds, 3), **payload}  # fmt: skip


@dataclass
class ChunkReorderer:
    """Reorders Twilio media chunks (numbered from 1) within ``window`` chunks."""

    window: int = 10
    next_chunk: int = 1
    stats: dict[str, int] = field(
        default_factory=lambda: {"late": 0, "duplicate": 0, "missing": 0, "reordered": 0}
    )
    _buf: dict[int, tuple[int | None, bytes]] = field(default_factory=dict)
    _skipped: set[int] = field(default_factory=set)
    _last_end_ms: float | None = None
    _last_len: int = 160

    def add(self, chunk: int, timestamp_ms: int | None, payload: bytes) -> list[bytes]:
        """Take one chunk; return the audio now ready, in order (gaps filled)."""
        if chunk < self.next_chunk:  # after its slot: given up on (late) or already played
            self.stats["late" if chunk in self._skipped else "duplicate"] += 1
            return []
        if chunk in self._buf:
            self.stats["duplicate"] += 1
            return []
        if chunk != self.next_chunk:
            self.stats["reordered"] += 1
        self._buf[chunk] = (timestamp_ms, payload)
        out = self._drain()
        while len(self._buf) > self.window:
            out.append(self._skip_gap())
            out.extend(self._drain())
        return out

    def flush(self) -> list[bytes]:
        """Everything still held, in order, gaps filled (at the end of the stream)."""
        out: list[bytes] = []
        while self._buf:
            out.append(self._skip_gap())
            out.extend(self._drain())
        return out

    def _drain(self) -> list[bytes]:
        out = []
        while self.next_chunk in self._buf:
            ts, payload = self._buf.pop(self.next_chunk)
            out.append(payload)
            self._last_len = len(payload) or self._last_len
            if ts is not None:
                self._last_end_ms = ts + len(payload) / _MULAW_BYTES_PER_MS
            elif self._last_end_ms is not None:
                self._last_end_ms += len(payload) / _MULAW_BYTES_PER_MS
            self.next_chunk += 1
        return out

    def _skip_gap(self) -> bytes:
        first = min(self._buf)
        n_missing = first - self.next_chunk
        self.stats["missing"] += n_missing
        room = _MAX_SKIPPED - len(self._skipped)
        if room > 0:  # remembered to tell late chunks from duplicates; bounded
            self._skipped.update(range(self.next_chunk, min(first, self.next_chunk + room)))
        n_bytes = min(n_missing * self._last_len, MAX_GAP_BYTES)
        ts = self._buf[first][0]
        if ts is not None and self._last_end_ms is not None:
            gap_ms = ts - self._last_end_ms
            if 0 <= gap_ms <= _MAX_GAP_SECONDS * 1000:  # trust plausible timestamps
                n_bytes = round(gap_ms * _MULAW_BYTES_PER_MS)
        self.next_chunk = first
        if self._last_end_ms is not None:
            self._last_end_ms += n_bytes / _MULAW_BYTES_PER_MS
        return bytes([MULAW_SILENCE]) * n_bytes
