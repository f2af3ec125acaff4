"""LiveSession batching and the WebSocket idle timeout, without a server."""

from __future__ import annotations

import asyncio
import hashlib
from types import SimpleNamespace
from typing import Any

import pytest

from audio_detect.audio.io import encode_g711
from audio_detect.detector import Detector
from audio_detect.streaming import StreamingScorer
from audio_detect_service.capacity import StreamCapacity
from audio_detect_service.live import LiveSession
from audio_detect_service.routers.stream import IdleReceiver


class InlinePool:
    """The scoring pool's ``run``, inline, counting the calls."""

    def __init__(self) -> None:
        self.calls = 0

    async def run(self, fn: Any, *args: Any, timeout: float, shed: bool = True) -> Any:
        self.calls += 1
        return fn(*args)


def session_of(settings: Any, detector: Detector) -> tuple[LiveSession, InlinePool]:
    pool = InlinePool()
    services = SimpleNamespace(
        settings=settings, detector=detector, pool=pool, live_calls={},
        stream_capacity=StreamCapacity(threads=1, max_utilisation=0.8),
    )  # fmt: skip
    session = LiveSession(
        services, protocol="stream", call_id="c", stream_id="s", encoding="mulaw",  # type: ignore[arg-type]
        sample_rate=8000, principal=None, client={},  # type: ignore[arg-type]
    )  # fmt: skip
    return session, pool


async def feed_frames(session: LiveSession, data: bytes, frame: int = 160) -> list[tuple[Any, int]]:
    """Feed 20 ms frames; (verdict, bytes sent when it came back) for each verdict."""
    out = []
    for i in range(0, len(data), frame):
        out += [(u, i) for u in await session.feed(data[i : i + frame])]
        await asyncio.sleep(0)  # let the background flush run, as the socket wait would
        if session.limit_reached:
            break
    return out


def test_frames_are_batched_and_verdicts_unchanged(make_settings, tiny_gmm_dir, speech_8k):
    settings = make_settings()
    detector = Detector.load(tiny_gmm_dir)
    data = encode_g711(speech_8k, encoding="mulaw")
    session, pool = session_of(settings, detector)
    got = asyncio.run(feed_frames(session, data))
    direct = StreamingScorer(
        detector, encoding="mulaw", sample_rate=8000,
        interval_seconds=settings.stream_interval_seconds,
        interval_growth=settings.stream_interval_growth,
        first_verdict_speech_seconds=settings.stream_first_verdict_speech_seconds,
    )  # fmt: skip
    expected = [u for i in range(0, len(data), 160) for u in direct.push(data[i : i + 160])]
    updates = [u for u, _ in got]
    assert len(updates) >= 2
    assert [u.audio_seconds for u in updates] == [u.audio_seconds for u in expected]
    assert [u.decision.llr for u in updates] == [u.decision.llr for u in expected]
    # Each verdict comes back with the frame after the one that completed its audio.
    for update, sent in got:
        assert 0 <= sent / 8000 - update.audio_seconds <= 0.021
    # One scoring call per check (every 0.5 s until the first verdict) or second of
    # audio, instead of one per 100 ms (97 for this clip).
    seconds = len(data) / 8000
    assert pool.calls <= seconds + 8
    assert session.live.audio_seconds == pytest.approx(seconds)
    # Every flushed byte was timed for the capacity estimate (the rest waits in the
    # buffer); the sums decay with a 60 s half-life while the test runs.
    flushed = (len(data) - len(session._pending)) / 8000
    assert session.services.stream_capacity.audio_seconds == pytest.approx(flushed, rel=0.01)


def test_stream_max_seconds_cuts_at_the_limit(make_settings, tiny_gmm_dir, speech_8k):
    """The frame that crosses the limit ends the stream at once, with exactly the limit kept."""
    session, _ = session_of(make_settings(stream_max_seconds=3.0), Detector.load(tiny_gmm_dir))
    recorded: dict[str, Any] = {}
    session.services.record = lambda payload, **kw: recorded.update(kw) or "dec-1"
    session.services.metrics = SimpleNamespace(observe_decision=lambda *a: None)
    data = encode_g711(speech_8k, encoding="mulaw")

    async def run() -> Any:
        await feed_frames(session, data, frame=700)
        assert session.limit_reached and session.bytes_received == 24_000
        assert await session.feed(b"\xff" * 160) == []  # ignored past the limit
        return await session.finish()

    _, final, decision_id = asyncio.run(run())
    assert decision_id == "dec-1" and final.audio_seconds == 3.0
    assert recorded["audio_sha256"] == hashlib.sha256(data[:24_000]).hexdigest()


class QueueSocket:
    """A WebSocket whose ``receive`` reads an asyncio queue."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def receive(self) -> dict[str, Any]:
        return await self.queue.get()


def test_idle_receiver_times_out_only_on_a_long_wait():
    async def run() -> None:
        ws = QueueSocket()
        # (a 1 s timeout against 0.2 s gaps: a loaded 2-core CI machine delays timers by
        # more than the 0.1 s margin a 0.3 s timeout left)
        receiver = IdleReceiver(ws, 1.0)  # type: ignore[arg-type]
        loop = asyncio.get_running_loop()
        for i in range(8):  # 1.6 s of messages 0.2 s apart: never idle
            loop.call_later(0.2, ws.queue.put_nowait, {"n": i})
            assert await receiver() == {"n": i}
        await asyncio.sleep(1.5)  # time between waits is not idle time
        ws.queue.put_nowait({"n": "late"})
        assert await receiver() == {"n": "late"}
        t0 = loop.time()
        assert await receiver() is None  # nothing comes: timeout
        assert 0.99 <= loop.time() - t0 < 3.0
        loop.call_later(0.1, ws.queue.put_nowait, {"n": "again"})
        assert await receiver() == {"n": "again"}  # still usable after a timeout
        receiver.close()

    asyncio.run(run())


def test_idle_receiver_lets_outside_cancellation_through():
    async def run() -> None:
        receiver = IdleReceiver(QueueSocket(), 5.0)  # type: ignore[arg-type]
        task = asyncio.ensure_future(receiver())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        receiver.close()
        assert receiver._timer is None

    asyncio.run(run())
