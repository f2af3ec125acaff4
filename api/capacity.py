"""Live-call capacity measured from the scoring pool's own work.

Every flush of a live call's audio is timed in its pool thread. Their ratio,
``cost`` = pool-thread seconds spent per second of call audio, is what one live call
costs this worker on this host (model, CPU, other processes included, since it is wall
time). A worker whose pool has ``threads`` threads keeps up with about
``threads / cost`` calls; :meth:`StreamCapacity.admits` lets a new call in only while
``(open + 1) * cost <= threads * max_utilisation``.

The scoring threads are not the only serial resource: every 20 ms frame of every call
is read, buffered and answered by the worker's one event-loop thread, which saturates
first on some hosts (the docs' 400-stream runs: one worker on 1.2 of 2 cores). So the
event loop's CPU time per second of call audio received is measured too
(:meth:`StreamCapacity.sample_event_loop`, run every second in the loop), and the
capacity is the smaller of ``threads * max_utilisation / pool cost`` and
``max_utilisation / loop cost``.

Unlike a ``degraded`` call (which the server only sees once scoring is behind), the
estimate holds before the new calls send any audio, so a burst of call starts is
turned away up front. A cost measured at light load overstates what a call costs at
heavy load (the loop's per-iteration work is shared by more frames), so the estimate
only refuses a call while the worker is busy: while the pool's or the loop's
utilisation over the last seconds is under half of ``max_utilisation``, calls are
admitted whatever the estimate says. All sums decay with a half-life in wall time, so
the estimate follows a change of load mix or of host; until ``min_audio_seconds`` of
call audio has been measured there is no estimate and every call is admitted (up to
``max_streams``).
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable

from audio_detect.exceptions import ParameterError

__all__ = ["DecayedRatio", "StreamCapacity", "watch_event_loop"]

#: Half-life (s) of the busy sums that give the current utilisation.
_RECENT_HALF_LIFE = 5.0


class DecayedRatio:
    """``busy / audio`` over exponentially decayed sums (not thread-safe on its own)."""

    def __init__(self, half_life_seconds: float, now: float) -> None:
        self.half_life_seconds = half_life_seconds
        self.busy = 0.0
        self.audio = 0.0
        self._t = now

    def decay(self, now: float) -> None:
        """Age both sums to ``now``."""
        f = math.exp2(-(now - self._t) / self.half_life_seconds)
        self.busy *= f
        self.audio *= f
        self._t = now

    def add(self, now: float, *, audio: float, busy: float) -> None:
        self.decay(now)
        self.busy += busy
        self.audio += audio

    def ratio(self, now: float, min_audio: float) -> float | None:
        """``busy / audio``, or None below ``min_audio``."""
        self.decay(now)
        if self.audio <= 0 or self.audio < min_audio:
            return None
        return self.busy / self.audio


class StreamCapacity:
    """Decayed costs of call audio in the scoring pool and the event loop, and the
    admission rule built on them.

    Parameters
    ----------
    threads : int
        Scoring threads of the pool the calls share.
    max_utilisation : float
        Share of the pool's threads, and of the event loop, live calls may fill (the rest
        is headroom for ``/v1/analyze`` and bursts of speech).
    half_life_seconds : float
        Half-life of the decay of the sums.
    min_audio_seconds : float
        Call audio that must have been measured before an estimate is used.
    clock : callable, optional
        Monotonic clock in seconds (tests).
    thread_clock : callable, optional
        CPU time of the calling thread (tests; default :func:`time.thread_time`).
    """

    def __init__(
        self,
        *,
        threads: int,
        max_utilisation: float,
        half_life_seconds: float = 60.0,
        min_audio_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        thread_clock: Callable[[], float] = time.thread_time,
    ) -> None:
        if threads < 1:
            raise ParameterError.invalid("threads", ">= 1", threads)
        if not max_utilisation > 0:
            raise ParameterError.invalid("max_utilisation", "> 0", max_utilisation)
        if not half_life_seconds > 0:
            raise ParameterError.invalid("half_life_seconds", "> 0", half_life_seconds)
        self.threads = threads
        self.max_utilisation = float(max_utilisation)
        self.min_audio_seconds = float(min_audio_seconds)
        self._clock = clock
        self._thread_clock = thread_clock
        self._lock = threading.Lock()
        now = clock()
        self._pool = DecayedRatio(half_life_seconds, now)
        self._loop = DecayedRatio(half_life_seconds, now)
        # The same busy time over the last seconds: the current utilisation.
        self._pool_now = DecayedRatio(_RECENT_HALF_LIFE, now)
        self._loop_now = DecayedRatio(_RECENT_HALF_LIFE, now)
        self._received = 0.0  # call audio received since the last loop sample
        self._loop_cpu: float | None = None

    def record(self, *, audio_seconds: float, busy_seconds: float) -> None:
        """Count one scoring task: ``busy_seconds`` of pool time for ``audio_seconds``."""
        if audio_seconds < 0 or busy_seconds < 0:
            raise ParameterError.invalid(
                "audio_seconds/busy_seconds", ">= 0", (audio_seconds, busy_seconds)
            )
        with self._lock:
            now = self._clock()
            self._pool.add(now, audio=audio_seconds, busy=busy_seconds)
            self._pool_now.add(now, audio=audio_seconds, busy=busy_seconds)

    def received(self, audio_seconds: float) -> None:
        """Count call audio arriving (charged with the event loop's next sample).

        Called for every frame, *in the event-loop thread* (as is
        :meth:`sample_event_loop`, the only other user of the counter), so no lock.
        """
        self._received += audio_seconds

    def sample_event_loop(self) -> None:
        """Charge the CPU time this thread used since the last sample to the call audio
        received since then. Call it periodically *in the event-loop thread*."""
        cpu = self._thread_clock()
        with self._lock:
            if self._loop_cpu is not None:
                now, busy = self._clock(), cpu - self._loop_cpu
                self._loop.add(now, audio=self._received, busy=busy)
                self._loop_now.add(now, audio=self._received, busy=busy)
            self._loop_cpu = cpu
            self._received = 0.0

    @property
    def audio_seconds(self) -> float:
        """Call audio timed in the scoring pool so far (decayed)."""
        with self._lock:
            self._pool.decay(self._clock())
            return self._pool.audio

    @property
    def cost(self) -> float | None:
        """Pool seconds per second of call audio (None: not enough audio timed yet)."""
        with self._lock:
            return self._pool.ratio(self._clock(), self.min_audio_seconds)

    @property
    def loop_cost(self) -> float | None:
        """Event-loop CPU seconds per second of call audio received (None: unknown)."""
        with self._lock:
            return self._loop.ratio(self._clock(), self.min_audio_seconds)

    @property
    def calls(self) -> int | None:
        """Live calls this worker keeps up with at ``max_utilisation`` (None: unknown)."""
        limits = [
            n * self.max_utilisation / c
            for n, c in ((self.threads, self.cost), (1, self.loop_cost))
            if c is not None and c > 0
        ]
        if not limits:
            return None
        # (a hair of slack: 1.6 / 0.01 must be 160, not 159.99...)
        return math.floor(min(limits) * (1 + 1e-9))

    @property
    def utilisation(self) -> float:
        """Busy share of the pool's threads or of the loop, whichever is higher, over the
        last seconds (a decayed sum of a steady rate ``r`` settles at ``r * h / ln 2``)."""
        with self._lock:
            now = self._clock()
            self._pool_now.decay(now)
            self._loop_now.decay(now)
            rate = math.log(2) / _RECENT_HALF_LIFE
            return max(self._pool_now.busy * rate / self.threads, self._loop_now.busy * rate)

    def admits(self, open_calls: int) -> bool:
        """Whether one more call fits beside ``open_calls``: True while the estimate is
        unknown, or while the worker is under half of ``max_utilisation``."""
        calls = self.calls
        if calls is None or open_calls + 1 <= calls:
            return True
        return self.utilisation < self.max_utilisation / 2


async def watch_event_loop(capacity: StreamCapacity, interval_seconds: float = 1.0) -> None:
    """Sample the event loop's CPU time every ``interval_seconds`` until cancelled."""
    while True:
        capacity.sample_event_loop()
        await asyncio.sleep(interval_seconds)
