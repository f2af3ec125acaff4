"""``frozen`` mode's incremental state: speech frozen behind a trailing context.

See :class:`FrozenSpeech` and the ``frozen`` mode in :mod:`audio_detect.streaming`.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ..audio.vad_stream import IncrementalVad
from ..backends import Backend

__all__ = ["FrozenSpeech"]

logger = logging.getLogger(__name__)


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
    """

    def __init__(self, pipeline: Any, *, context: int, lookback: int) -> None:
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
        self.speech = np.zeros(0, dtype=np.float32)  # speech samples [speech_base, speech_n)
        self.speech_base = 0
        self.next_start = 0  # speech index of the next complete window
        self.scores: list[float] = []
        self.spans: list[tuple[float, float]] = []
        self.tail: np.ndarray = np.zeros((0, 2), dtype=np.int64)  # provisional regions
        self.tail_samples = 0
        self.scored = 0  # complete (and end-of-call) windows: each scored once
        self.provisional_scored = 0  # provisional windows (before the first complete one)
        self._buf_ref = self.speech
        self._buf_base = 0

    @property
    def speech_n(self) -> int:
        return self.offsets[-1]

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
            regions = self.pipeline.speech_regions(buf[s - base : n - base]) + s
        else:  # classify the audio since the last check, then gate and smooth the span
            assert self.vad.n_samples >= base  # the scorer keeps [buffer_start(), n)
            self.vad.push(buf[self.vad.n_samples - base : n - base])
            regions = self.vad.regions(s)
        new: list[np.ndarray] = []
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
            self.speech = np.concatenate([self.speech, *new])
        self.frozen_at = target
        self._buf_ref, self._buf_base = buf, base  # for provisional(), right after
        tail = np.clip(regions, target, n)
        self.tail = tail[tail[:, 1] > tail[:, 0]]
        self.tail_samples = int(np.sum(self.tail[:, 1] - self.tail[:, 0])) if len(self.tail) else 0
        if self.vad is not None:
            self.vad.trim(self.vad_start())  # the next check looks no further back
        self._trim()

    def _trim(self) -> None:
        keep = max(0, min(self.next_start, self.speech_n - self.length))
        if keep - self.speech_base > 4 * self.length:
            self.speech = self.speech[keep - self.speech_base :].copy()
            self.speech_base = keep

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
        batch = np.stack(
            [self.speech[st - self.speech_base : st - self.speech_base + length] for st in starts]
        )
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
        speech = np.concatenate(pieces)[: self.length]
        regions = np.asarray([*self.regions, *self.tail.tolist()], dtype=np.int64).reshape(-1, 2)
        offsets = np.concatenate([[0], np.cumsum(regions[:, 1] - regions[:, 0])])
        raw = np.asarray(backend.score_windows(speech[None, :]), dtype=np.float64).reshape(-1)
        self.provisional_scored += 1
        return raw, [self._span(0, len(speech), regions, offsets)]
