"""``frozen`` mode's incremental state: speech frozen behind a trailing context.

See :class:`FrozenSpeech` and the ``frozen`` mode in :mod:`audio_detect.streaming`.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ..audio.vad_stream import IncrementalVad
from ..backends import Backend

__all__ = ["PCM16_SCALE", "FrozenSpeech", "as_float32", "compact", "is_pcm16"]

logger = logging.getLogger(__name__)

#: int16 buffers hold samples * PCM16_SCALE: int16 / 32768 is exactly the float32 sample
#: that :func:`~audio_detect.audio.raw.decode_raw` gives for PCM16, µ-law and A-law.
PCM16_SCALE = np.float32(32768.0)


def as_float32(x: np.ndarray) -> np.ndarray:
    """The float32 samples of a buffer slice (an int16 one is scaled back, exactly)."""
    if x.dtype == np.int16:
        return x.astype(np.float32) / PCM16_SCALE
    return x


def is_pcm16(y: np.ndarray) -> bool:
    """True when float samples ``y`` are exactly ``k / 32768`` for int16 ``k`` (lossless)."""
    q = np.asarray(y, dtype=np.float32) * PCM16_SCALE
    return bool(q.size == 0 or (np.array_equal(np.rint(q), q) and q.min() >= -32768.0
                                and q.max() <= 32767.0))  # fmt: skip


def compact(buf: np.ndarray, drop: int, used: int, need: int) -> np.ndarray:
    """Move ``buf[drop:used]`` to the front of a buffer of at least ``need`` samples.

    In place when ``need`` fits (no fresh array per compaction, so a live call's audio
    state is allocated once); otherwise a new buffer of ``max(need, 2 * buf.size)``
    (growth by doubling). Returns the buffer to use from now on.
    """
    if need > buf.size:
        grown = np.zeros(max(need, 2 * buf.size), dtype=buf.dtype)
        grown[: used - drop] = buf[drop:used]
        return grown
    if drop:
        buf[: used - drop] = buf[drop:used]  # numpy copies overlapping ranges safely
    return buf


class FrozenSpeech:
    """Speech regions frozen behind a trailing context, and the windows they complete.

    The recording is split at :attr:`frozen_at`: before it, which samples are speech is
    decided for good; after it (the last ``context`` samples) the speech found is
    provisional. Each check finds the speech of ``[frozen_at - lookback, now)`` only (a
    bounded cost), moves ``frozen_at`` to ``now - context`` and appends the newly
    frozen speech to the concatenated speech stream. The VAD is incremental
    (:class:`~audio_detect.audio.vad_stream.IncrementalVad`, with the pipeline's
    ``vad`` settings): each frame is filtered, levelled and classified by WebRTC once, as
    it arrives, and a check only redoes the noise-floor gate and the smoothing over the
    look-back; its per-frame arrays are trimmed to the look-back. At a model rate WebRTC
    does not run at, each check runs ``pipeline.speech_regions`` on that span instead
    (the behaviour before the incremental VAD). A window of that stream is
    *complete* once all its samples are frozen; it is scored then, once, and its raw
    score is kept. Windows start every hop of the speech stream, exactly like
    :func:`~audio_detect.audio.windows.window_starts`; the end-aligned last window and
    the single short window of a call with less than one window of speech are only
    known at the end and are scored by :meth:`finish_windows`.

    Parameters
    ----------
    pipeline : ScoringPipeline
        The detector's pipeline (model rate, window, VAD settings, speech regions).
    context : int
        Trailing samples whose speech decisions stay provisional.
    lookback : int
        Frozen samples each check gates and smooths again (the noise-floor estimate).
    room : int, optional
        Speech samples one check usually freezes (the scorer's interval plus the
        context): the speech buffer holds one window plus this much without growing.
        Default: one window.
    dtype : numpy dtype
        Of the speech buffer: ``float32``, or ``int16`` when the caller's buffer holds
        lossless PCM16 (samples * :data:`PCM16_SCALE`, see :meth:`to_float32`); the
        buffers passed to :meth:`update` must have the same.
    """

    def __init__(
        self, pipeline: Any, *, context: int, lookback: int, room: int | None = None,
        dtype: type = np.float32,
    ) -> None:  # fmt: skip
        self.pipeline = pipeline
        rate = pipeline.model_rate
        cfg = pipeline.window
        self.rate = rate
        self.length = round(cfg.window_seconds * rate)
        self.hop = max(1, round(cfg.hop_seconds * rate))
        self.min_len = max(1, round(cfg.min_speech_seconds * rate))
        self.frame = max(1, rate * pipeline.vad.frame_ms // 1000)
        self.vad: IncrementalVad | None = None
        if rate in IncrementalVad.SAMPLE_RATES:
            self.vad = IncrementalVad(sr=rate, **pipeline.vad.kwargs())
        else:
            logger.info(
                "frozen mode at %d Hz, not a WebRTC rate: each check runs the VAD over "
                "the look-back (not incremental)", rate,
            )  # fmt: skip
        self.context = int(context)
        self.lookback = int(lookback)
        self.frozen_at = 0
        self.regions: list[list[int]] = []  # frozen speech regions (recording samples)
        self.offsets: list[int] = [0]  # speech index where each region starts (+ the total)
        # The tail of the speech stream, samples [speech_base, speech_n), at the start of
        # a buffer reused in place (see _extend): what a window still to be scored reads.
        room = self.length if room is None else max(0, int(room))
        self._speech_buf = np.zeros(self.length + room, dtype=dtype)
        self.speech_base = 0
        self.next_start = 0  # speech index of the next complete window
        self.scores: list[float] = []
        self.spans: list[tuple[float, float]] = []
        self.tail: np.ndarray = np.zeros((0, 2), dtype=np.int64)  # provisional regions
        self.tail_samples = 0
        self.scored = 0  # complete (and end-of-call) windows: each scored once
        self.provisional_scored = 0  # provisional windows (before the first complete one)
        self._buf_ref = np.zeros(0, dtype=dtype)
        self._buf_base = 0

    @property
    def speech_n(self) -> int:
        return self.offsets[-1]

    @property
    def speech(self) -> np.ndarray:
        """The speech samples still held: ``[speech_base, speech_n)`` of the stream (a view)."""
        return self._speech_buf[: self.speech_n - self.speech_base]

    @property
    def held_bytes(self) -> int:
        """Bytes of the speech buffer (the held samples and the room after them)."""
        return int(self._speech_buf.nbytes)

    def to_float32(self) -> None:
        """Hold float32 speech from now on (the caller's buffer is no longer PCM16)."""
        self._speech_buf = as_float32(self._speech_buf)
        self._buf_ref = as_float32(self._buf_ref)

    def vad_start(self) -> int:
        """First recording sample the next VAD run looks at (frame-aligned)."""
        s = max(0, self.frozen_at - self.lookback)
        return s - s % self.frame

    def buffer_start(self) -> int:
        """First recording sample the next :meth:`update` reads from the caller's buffer.

        The incremental VAD needs only the audio it has not classified yet, and the
        provisional tail starts at :attr:`frozen_at`: the scorer may drop everything
        before (a few seconds of history instead of the look-back). The fallback VAD
        re-reads the look-back, from :meth:`vad_start`.
        """
        if self.vad is None:
            return self.vad_start()
        s = min(self.frozen_at, self.vad.n_samples)
        return s - s % self.frame

    def update(self, buf: np.ndarray, base: int, n: int, *, final: bool) -> None:
        """Freeze the speech of ``[frozen_at, n - context)`` (everything when final)."""
        target = n if final else max(self.frozen_at, n - self.context)
        s = self.vad_start()
        if self.vad is None:
            regions = self.pipeline.speech_regions(as_float32(buf[s - base : n - base])) + s
        else:  # classify the audio since the last check, then gate and smooth the span
            assert self.vad.n_samples >= base  # the scorer keeps [buffer_start(), n)
            self.vad.push(as_float32(buf[self.vad.n_samples - base : n - base]))
            regions = self.vad.regions(s)
        new: list[np.ndarray] = []
        before = self.speech_n
        for a, b in np.clip(regions, self.frozen_at, target):
            if b <= a:
                continue
            a, b = int(a), int(b)
            if self.regions and self.regions[-1][1] == a:
                self.regions[-1][1] = b
                self.offsets[-1] += b - a
            else:
                self.regions.append([a, b])
                self.offsets.append(self.offsets[-1] + b - a)
            new.append(buf[a - base : b - base])
        if new:
            self._extend(new, before)
        self.frozen_at = target
        self._buf_ref, self._buf_base = buf, base  # for provisional(), right after
        tail = np.clip(regions, target, n)
        self.tail = tail[tail[:, 1] > tail[:, 0]]
        self.tail_samples = int(np.sum(self.tail[:, 1] - self.tail[:, 0])) if len(self.tail) else 0
        if self.vad is not None:
            self.vad.trim(self.vad_start())  # the next check looks no further back

    def _extend(self, pieces: list[np.ndarray], before: int) -> None:
        """Append newly frozen speech (``before``: the stream's length without it).

        Windows still to be scored start at :attr:`next_start` or later, and the
        end-aligned last window at ``speech_n - length`` or later: the samples before
        both are dropped here, so about one window plus one interval of speech is held
        whatever the length of the call. The buffer is reused in place and only grows
        (doubling) when a check freezes more than it holds; before, the whole held
        speech was copied into a fresh array at every check and up to five windows were
        kept, 0.7 MB per 30 s call (200 calls: 140 MB and a fragmented heap).
        """
        keep = min(self.next_start, self.speech_n - self.length, before)
        drop = max(0, keep - self.speech_base)
        used = before - self.speech_base
        need = used - drop + sum(p.size for p in pieces)
        self._speech_buf = buf = compact(self._speech_buf, drop, used, need)
        self.speech_base += drop
        pos = used - drop
        for p in pieces:
            buf[pos : pos + p.size] = p
            pos += p.size

    def _map(self, pos: np.ndarray, regions: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        idx = np.clip(np.searchsorted(offsets, pos, side="right") - 1, 0, len(regions) - 1)
        return regions[idx, 0] + (pos - offsets[idx])

    def _span(self, start: int, length: int, regions: np.ndarray, offsets: np.ndarray) -> tuple:
        pos = np.array([start, start + length - 1], dtype=np.int64)
        rec = self._map(pos, regions, offsets)
        return (float(rec[0]) / self.rate, float(rec[1] + 1) / self.rate)

    def _score(self, backend: Backend, starts: list[int], length: int) -> None:
        if not starts:
            return
        assert min(starts) >= self.speech_base  # internal invariant (see _extend)
        batch = np.stack(
            [self.speech[st - self.speech_base : st - self.speech_base + length] for st in starts]
        )
        batch = as_float32(batch)
        raw = np.asarray(backend.score_windows(batch), dtype=np.float64).reshape(-1)
        regions = np.asarray(self.regions, dtype=np.int64).reshape(-1, 2)
        offsets = np.asarray(self.offsets, dtype=np.int64)
        for st, r in zip(starts, raw, strict=True):
            self.scores.append(float(r))
            self.spans.append(self._span(st, length, regions, offsets))
        self.scored += len(starts)

    def score_complete(self, backend: Backend) -> None:
        """Score the windows completed since the last call (each exactly once)."""
        starts = []
        while self.next_start + self.length <= self.speech_n:
            starts.append(self.next_start)
            self.next_start += self.hop
        self._score(backend, starts, self.length)

    def finish_windows(self, backend: Backend) -> None:
        """After the final :meth:`update`: the windows only the end of the call defines."""
        self.score_complete(backend)
        total = self.speech_n
        if total < self.min_len:
            return
        if total <= self.length:
            if not self.scores:
                self._score(backend, [0], total)
        elif self.next_start - self.hop + self.length < total:
            self._score(backend, [total - self.length], self.length)

    def provisional(self, backend: Backend) -> tuple[np.ndarray, list[tuple[float, float]]]:
        """One window over the speech heard so far (frozen + provisional), not kept.

        Used for rolling verdicts before the first window is complete.
        """
        total = self.speech_n + self.tail_samples
        if total < self.min_len:
            return np.zeros(0), []
        base = self.speech_base
        pieces = [self.speech[: max(0, self.speech_n - base)]]
        pieces += [self._buf_ref[a - self._buf_base : b - self._buf_base] for a, b in self.tail]
        speech = as_float32(np.concatenate(pieces)[: self.length])
        regions = np.asarray([*self.regions, *self.tail.tolist()], dtype=np.int64).reshape(-1, 2)
        offsets = np.concatenate([[0], np.cumsum(regions[:, 1] - regions[:, 0])])
        raw = np.asarray(backend.score_windows(speech[None, :]), dtype=np.float64).reshape(-1)
        self.provisional_scored += 1
        return raw, [self._span(0, len(speech), regions, offsets)]
