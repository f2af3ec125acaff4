"""Live-call capacity measured from the scoring pool's own work.

Every flush of a live call's audio is timed in its pool thread. Their ratio,
``cost`` = pool-thread seconds spent per second of call audio, is what one live call
costs this worker on this host (model, CPU, other processes included, since it is wall
time). A worker whose pool has ``threads`` threads keeps up with about
``threads / cost`` calls; :meth:`StreamCapacity.admits` lets a new call in only while
``(open + 1) * cost <= threads * max_utilisation``.

Unlike a ``degraded`` call (which the server only sees once scoring is behind), the
estimate holds before the new calls send any audio, so a burst of call starts is
turned away up front. Both sums decay with a half-life in wall time, so the estimate
follows a change of load mix or of host; until ``min_audio_seconds`` of call audio has
been timed there is no estimate and every call is admitted (up to ``max_streams``).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from audio_detect.exceptions import ParameterError

__all__ = ["StreamCapacity"]


class StreamCapacity:
    """Decayed ratio of scoring time to call audio, and the admission rule built on it.

    Parameters
    ----------
    threads : int
        Scoring threads of the pool the calls share.
    max_utilisation : float
        Share of those threads live calls may fill (the rest is headroom for the
        event loop, ``/v1/analyze`` and bursts of speech).
    half_life_seconds : float
        Half-life of the decay of both sums.
    min_audio_seconds : float
        Call audio that must have been timed before the estimate is used.
    clock : callable, optional
        Monotonic clock in seconds (tests).
    """

    def __init__(
        self,
        *,
        threads: int,
        max_utilisation: float,
        half_life_seconds: float = 60.0,
        min_audio_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if threads < 1:
            raise ParameterError.invalid("threads", ">= 1", threads)
        if not max_utilisation > 0:
            raise ParameterError.invalid("max_utilisation", "> 0", max_utilisation)
        if not half_life_seconds > 0:
            raise ParameterError.invalid("half_life_seconds", "> 0", half_life_seconds)
        self.threads = threads
        self.max_utilisation = float(max_utilisation)
        self.half_life_seconds = float(half_life_seconds)
        self.min_audio_seconds = float(min_audio_seconds)
        self._clock = clock
        self._lock = threading.Lock()
        self._busy = 0.0
        self._audio = 0.0
        self._t = clock()

    def _decay(self, now: float) -> None:
        f = math.exp2(-(now - self._t) / self.half_life_seconds)
        self._busy *= f
        self._audio *= f
        self._t = now

    def record(self, *, audio_seconds: float, busy_seconds: float) -> None:
        """Count one scoring task: ``busy_seconds`` of pool time for ``audio_seconds``."""
        if audio_seconds < 0 or busy_seconds < 0:
            raise ParameterError.invalid(
                "audio_seconds/busy_seconds", ">= 0", (audio_seconds, busy_seconds)
            )
        with self._lock:
            self._decay(self._clock())
            self._busy += busy_seconds
            self._audio += audio_seconds

    @property
    def audio_seconds(self) -> float:
        """Call audio timed so far (decayed)."""
        with self._lock:
            self._decay(self._clock())
            return self._audio

    @property
    def cost(self) -> float | None:
        """Pool seconds per second of call audio (None: not enough audio timed yet)."""
        with self._lock:
            self._decay(self._clock())
            if self._audio <= 0 or self._audio < self.min_audio_seconds:
                return None
            return self._busy / self._audio

    @property
    def calls(self) -> int | None:
        """Live calls this worker keeps up with at ``max_utilisation`` (None: unknown)."""
        cost = self.cost
        if cost is None or cost <= 0:
            return None
        # (a hair of slack: 1.6 / 0.01 must be 160, not 159.99...)
        return math.floor(self.threads * self.max_utilisation / cost * (1 + 1e-9))

    def admits(self, open_calls: int) -> bool:
        """Whether one more call fits beside ``open_calls`` (True while unknown)."""
        calls = self.calls
        return calls is None or open_calls + 1 <= calls
