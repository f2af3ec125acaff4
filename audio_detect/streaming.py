"""Rolling verdicts on a live call, with the offline scoring rule.

Two scoring modes (``StreamingScorer(scoring=...)``):

``frozen`` (the default, used by the service)
    Speech decisions are frozen behind a short trailing context
    (``freeze_context_seconds``, 1 s): each check runs the VAD on the last
    ``vad_lookback_seconds`` (10 s) of frozen audio plus the unfrozen tail only, appends
    the newly frozen speech to the call's speech stream, and scores each window of that
    stream **once**, when all its samples are frozen. Windows are cut with the offline
    rule (``spec.window``: a window every hop over the concatenated speech, an end-aligned
    last window, one short window for a call with less than a window of speech); the
    score, calibration and tier come from the same ``ScoringPipeline.decide``. Work per
    update and memory are bounded (the audio buffer keeps only the VAD's look-back), so
    the interval does not grow with the call. Until the first window is complete a
    rolling verdict scores one provisional window over the speech heard so far (the
    first verdict comes after ``first_verdict_speech_seconds`` of speech).
    Agreement with offline scoring is a stated bound, not bit-equality: the final LLR
    is within 0.5 of ``Detector.score_file`` (``audio-detect score``) on the same audio
    with the same verdict (``tests/test_streaming.py``; measured on 30-60 s calls: 0 to
    0.055 with the test GMM; with ``whisper-cm-8k`` 2.0.0, whose int8 graph quantizes
    activations per batch so that a window's score depends on the windows batched with
    it, up to 0.12, most of it that batching effect: docs/api.md). Rolling verdicts
    cover the complete windows, not the offline score of the prefix.

``exact``
    The behaviour described below: every verdict rescores the whole prefix with the
    offline pipeline (window scores cached).

:class:`StreamingScorer` takes audio in chunks of any size (PCM16, G.711 µ-law or
A-law bytes, or float arrays), brings it to the model rate with the same soxr
resampler the file loader uses, and now and then scores **everything received so
far** with exactly the offline pipeline, the very object offline scoring uses
(``detector.pipeline``, a :class:`~audio_detect.scoring.ScoringPipeline`): its VAD on
the whole prefix, its windows and its aggregation and calibration, this stream's cache
of window scores passed as the backend of each call. A rolling verdict is therefore the offline
verdict of the audio received up to that moment, and the final verdict is the
offline verdict of the whole call.

What makes this affordable is a cache of raw window scores keyed by the recording
samples each window covers: the buffer only grows, so a window whose samples did not
change is never scored twice, and each update scores only the windows it has not
seen: the new ones, and those cut differently because a speech region before them
moved (region edges move by a VAD frame as the noise floor changes, so a call scores
4 to 7 times the windows of its final verdict; measured on 30-300 s calls). The VAD
runs on the whole prefix at each update (its noise floor is a percentile over the
whole signal, so it cannot be made incremental without changing its answers); its
cost grows with the call, so the update interval grows too:
``max(interval_seconds, interval_growth * audio_seconds)``.

Timing of verdicts
------------------
* Until the first verdict, a cheap probe runs the VAD on the last
  ``probe_context_seconds`` every ``probe_seconds`` of audio; as soon as it finds
  ``first_verdict_speech_seconds`` of speech (default 2 s, never less than the model's
  ``min_speech_seconds``) the full prefix is scored and the first verdict is issued.
* Afterwards a verdict is issued each time the audio has grown by the interval above.
* :meth:`StreamingScorer.finish` issues the final verdict on the whole call.

Tolerance
---------
With input at the model rate (8 kHz µ-law into an 8 kHz model, the telephone case)
the final verdict is bit-identical to ``Detector.score_file`` on the same bytes, and a
rolling verdict is bit-identical to ``Detector.score_samples`` on the prefix. With
resampling (e.g. 16 kHz PCM into an 8 kHz model) the chunked resampler can differ
from the file loader's by float rounding; the test suite asserts ``|ΔLLR| <= 1e-4``
and ``|ΔP(spoof)| <= 1e-4`` and the same verdict and tier.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import soxr

from .audio.io import RAW_ENCODINGS, decode_raw
from .audio.windows import SpeechWindows
from .calibration import TierThresholds
from .constants import (
    MAX_INPUT_RATE,
    MIN_INPUT_RATE,
    STREAM_MAX_SECONDS,
    TELEPHONY_RATE,
    VERDICT_NOT_ENOUGH_SPEECH,
)
from .detector import Backend, Decision, Detector
from .exceptions import AudioTooLongError, ParameterError

__all__ = ["STREAM_ENCODINGS", "StreamUpdate", "StreamingScorer"]

logger = logging.getLogger(__name__)

#: Encodings :meth:`StreamingScorer.push` accepts (``float32``: numpy arrays in [-1, 1]).
STREAM_ENCODINGS = (*RAW_ENCODINGS, "float32")
_CODECS = {
    "pcm_s16le": "pcm_s16le",
    "mulaw": "pcm_mulaw",
    "alaw": "pcm_alaw",
    "float32": "pcm_f32le",
}


@dataclass(frozen=True)
class StreamUpdate:
    """One verdict of a live stream.

    Attributes
    ----------
    seq : int
        1 for the first verdict, then 2, 3...
    audio_seconds : float
        Audio received when the verdict was computed (at the model rate).
    decision : Decision
        The offline decision of the audio received so far.
    final : bool
        True for the verdict on the whole call (:meth:`StreamingScorer.finish`).
    """

    seq: int
    audio_seconds: float
    decision: Decision
    final: bool = False

    def to_dict(self, *, timeline: bool = True) -> dict[str, Any]:
        """JSON-ready dict; ``timeline=False`` drops the per-window scores."""
        d = self.decision.to_dict()
        if not timeline:
            d.pop("windows", None)
        return {"seq": self.seq, "audio_seconds": round(self.audio_seconds, 3),
                "final": self.final, **d}  # fmt: skip


class _IndexWindows(SpeechWindows):
    """Speech windows whose ``stacked()`` yields row indices instead of samples.

    :meth:`Detector.decide` hands ``stacked()`` to the backend; with the caching
    backend below this avoids materialising every window of a long call.
    """

    def stacked(self) -> np.ndarray:
        return np.arange(len(self), dtype=np.int64)[:, None]


#: The window-score cache keeps the current windows plus up to this many times as many
#: recent others (least recently used dropped first), and at least _CACHE_SLACK of them.
_CACHE_FACTOR = 4
_CACHE_SLACK = 256


class _CachingBackend:
    """Backend proxy that scores only windows it has not seen (by sample-span key).

    The cache is not limited to the current windows: the VAD's noise floor is a
    percentile of the whole prefix, so region edges move back and forth by a frame
    from one update to the next, and a window dropped by one update often comes back
    a few updates later. Keeping the recent ones (LRU, bounded by a multiple of the
    current window count) scores 15 % fewer windows on a 30 s call and a third fewer
    on a 300 s one (whisper-cm-8k); the entries are small beside the audio buffer.
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.cache: dict[Hashable, float] = {}
        self._windows: SpeechWindows | None = None
        self._keys: list[Hashable] = []
        self.scored = 0

    def bind(self, windows: SpeechWindows, keys: list[Hashable]) -> None:
        self._windows, self._keys = windows, keys

    def score_windows(self, windows: np.ndarray) -> np.ndarray:
        assert self._windows is not None  # internal invariant (bind before decide)
        idx = [int(i) for i in np.asarray(windows).reshape(len(windows), -1)[:, 0]]
        missing = [i for i in idx if self._keys[i] not in self.cache]
        if missing:
            batch = np.stack([self._windows.window(i) for i in missing])
            raw = np.asarray(self.backend.score_windows(batch), dtype=np.float64).reshape(-1)
            for i, r in zip(missing, raw, strict=True):
                self.cache[self._keys[i]] = float(r)
            self.scored += len(missing)
        out = np.array([self.cache[self._keys[i]] for i in idx], dtype=np.float64)
        cache = self.cache
        for key in self._keys:  # most recently used last (dicts keep insertion order)
            cache[key] = cache.pop(key)
        excess = len(cache) - (_CACHE_FACTOR * len(self._keys) + _CACHE_SLACK)
        for key in list(itertools.islice(cache, max(0, excess))):
            del cache[key]
        return out


def _window_keys(windows: SpeechWindows, regions: np.ndarray) -> list[Hashable]:
    """Identify each window by the recording sample ranges it covers."""
    regions = np.asarray(regions, dtype=np.int64).reshape(-1, 2)
    if len(windows) == 0:
        return []
    offsets = np.concatenate([[0], np.cumsum(regions[:, 1] - regions[:, 0])])
    keys: list[Hashable] = []
    for start in windows.starts:
        a, b = int(start), int(start) + windows.length
        first = int(np.searchsorted(offsets, a, side="right") - 1)
        last = int(np.searchsorted(offsets, b - 1, side="right") - 1)
        pieces = []
        for r in range(first, last + 1):
            lo = max(a, int(offsets[r])) - int(offsets[r]) + int(regions[r, 0])
            hi = min(b, int(offsets[r + 1])) - int(offsets[r]) + int(regions[r, 0])
            pieces.append((lo, hi))
        keys.append(tuple(pieces))
    return keys


#: Scoring modes of :class:`StreamingScorer` (see the module docstring).
STREAM_SCORING_MODES = ("frozen", "exact")


class _ListBackend:
    """Backend over already-known raw scores (``windows`` are row indices)."""

    def __init__(self, scores: np.ndarray) -> None:
        self.scores = scores

    def score_windows(self, windows: np.ndarray) -> np.ndarray:
        idx = np.asarray(windows, dtype=np.int64).reshape(len(windows), -1)[:, 0]
        return self.scores[idx]


class _FrozenSpeech:
    """Speech regions frozen behind a trailing context, and the windows they complete.

    The recording is split at :attr:`frozen_at`: before it, which samples are speech is
    decided for good; after it (the last ``context`` samples) the speech found is
    provisional. Each check runs the VAD on ``[frozen_at - lookback, now)`` only (a
    bounded cost), moves ``frozen_at`` to ``now - context`` and appends the newly
    frozen speech to the concatenated speech stream. A window of that stream is
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

    def update(self, buf: np.ndarray, base: int, n: int, *, final: bool) -> None:
        """Freeze the speech of ``[frozen_at, n - context)`` (everything when final)."""
        target = n if final else max(self.frozen_at, n - self.context)
        s = self.vad_start()
        regions = self.pipeline.speech_regions(buf[s - base : n - base]) + s
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


class StreamingScorer:
    """Push audio chunks, get rolling call verdicts; see the module docstring.

    Parameters
    ----------
    detector : Detector
        A loaded detector (shared, read-only).
    encoding : str
        ``pcm_s16le``, ``mulaw``, ``alaw`` (bytes) or ``float32`` (numpy arrays).
    sample_rate : int
        Rate of the pushed audio, kept as :attr:`input_rate`; resampled to the model
        rate (:attr:`model_rate`) when different.
    interval_seconds : float
        Minimum audio between two rolling verdicts after the first.
    interval_growth : float
        The interval is at least this fraction of the audio received so far (bounds
        the VAD cost of long calls); 0 disables the growth.
    first_verdict_speech_seconds : float
        Speech needed for the first verdict (raised to the model's minimum).
    probe_seconds, probe_context_seconds : float
        How often and over how much trailing audio speech is probed before the first
        verdict.
    max_seconds : float
        Longest stream accepted; :meth:`push` raises :class:`AudioTooLongError` past it
        (the audio up to the limit is kept and :meth:`finish` still works).
    prior : float, optional
        P(spoof) prior for posteriors (default: the model's).
    thresholds : TierThresholds, optional
        Tier thresholds (default: the model's).
    scoring : str
        ``frozen`` (default): speech is frozen behind ``freeze_context_seconds`` and
        each complete window is scored exactly once (bounded work per update, agreement
        with offline scoring within the documented tolerance). ``exact``: every verdict
        rescores the whole prefix with the offline pipeline (window scores cached), the
        final verdict bit-identical to offline scoring at the model rate.
    freeze_context_seconds : float
        ``frozen`` mode: trailing audio whose speech decisions stay provisional.
    vad_lookback_seconds : float
        ``frozen`` mode: frozen audio the VAD sees again before the provisional part
        (its noise-floor estimate); the audio buffer keeps only this much history.
    """

    def __init__(
        self,
        detector: Detector,
        *,
        encoding: str = "pcm_s16le",
        sample_rate: int = TELEPHONY_RATE,
        interval_seconds: float = 3.0,
        interval_growth: float = 0.05,
        first_verdict_speech_seconds: float = 2.0,
        probe_seconds: float = 0.5,
        probe_context_seconds: float = 30.0,
        max_seconds: float = STREAM_MAX_SECONDS,
        prior: float | None = None,
        thresholds: TierThresholds | None = None,
        scoring: str = "frozen",
        freeze_context_seconds: float = 1.0,
        vad_lookback_seconds: float = 10.0,
    ) -> None:
        if scoring not in STREAM_SCORING_MODES:
            raise ParameterError.invalid("scoring", f"one of {STREAM_SCORING_MODES}", scoring)
        if encoding not in STREAM_ENCODINGS:
            raise ParameterError.invalid("encoding", f"one of {STREAM_ENCODINGS}", encoding)
        if (
            isinstance(sample_rate, bool)
            or not isinstance(sample_rate, int)
            or not (MIN_INPUT_RATE <= sample_rate <= MAX_INPUT_RATE)
        ):
            raise ParameterError.invalid(
                "sample_rate", f"an integer in [{MIN_INPUT_RATE}, {MAX_INPUT_RATE}]", sample_rate
            )
        for name, value, low in (
            ("interval_seconds", interval_seconds, 0.1),
            ("probe_seconds", probe_seconds, 0.02),
            ("probe_context_seconds", probe_context_seconds, 1.0),
            ("max_seconds", max_seconds, 1.0),
            ("freeze_context_seconds", freeze_context_seconds, 0.5),
            ("vad_lookback_seconds", vad_lookback_seconds, 1.0),
        ):
            if not value >= low:
                raise ParameterError.invalid(name, f"a number >= {low}", value)
        if not 0.0 <= interval_growth <= 1.0:
            raise ParameterError.invalid("interval_growth", "a number in [0, 1]", interval_growth)
        if prior is not None and not 0.0 < prior < 1.0:
            raise ParameterError.invalid("prior", "a probability strictly between 0 and 1", prior)
        self.detector = detector
        self.encoding = encoding
        self.input_rate = sample_rate
        self.model_rate = detector.model_rate
        self.interval_seconds = float(interval_seconds)
        self.interval_growth = float(interval_growth)
        self.first_speech = max(
            float(first_verdict_speech_seconds), detector.window.min_speech_seconds
        )
        self.probe_seconds = float(probe_seconds)
        self.probe_context_seconds = float(probe_context_seconds)
        self.max_seconds = float(max_seconds)
        self.prior = prior
        self.thresholds = thresholds
        #: The detector's own pipeline (not a copy): live and offline scoring share it.
        self.pipeline = detector.pipeline
        self._backend = _CachingBackend(self.pipeline.backend)
        self._resampler = (
            soxr.ResampleStream(sample_rate, self.model_rate, 1, dtype="float32", quality="HQ")
            if sample_rate != self.model_rate
            else None
        )
        self.scoring = scoring
        self._frozen = (
            _FrozenSpeech(
                self.pipeline,
                context=round(freeze_context_seconds * self.model_rate),
                lookback=round(vad_lookback_seconds * self.model_rate),
            )
            if scoring == "frozen"
            else None
        )
        self._buf = np.zeros(max(1, self.model_rate * 16), dtype=np.float32)
        self._n = 0  # samples received (at the model rate); _buf[0] is sample _base
        self._base = 0
        self._pending = b""
        self._received = 0  # input samples (at sample_rate)
        self._next_at = 0  # sample count at which the next evaluation/probe runs
        self._seq = 0
        self._finished = False
        self.latest: StreamUpdate | None = None
        self.clipped = 0

    # -- properties ---------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        """Alias of :attr:`input_rate`, the rate of the pushed audio (the argument's name)."""
        return self.input_rate

    @property
    def sr(self) -> int:
        """Alias of :attr:`model_rate`, the rate the audio is buffered and scored at."""
        return self.model_rate

    @property
    def audio_seconds(self) -> float:
        """Audio received so far, at the model rate."""
        return self._n / self.model_rate

    @property
    def windows_scored(self) -> int:
        """Windows actually run through the model (cache misses; provisional ones too)."""
        if self._frozen is not None:
            return self._frozen.scored + self._frozen.provisional_scored
        return self._backend.scored

    @property
    def input_samples_to_next_check(self) -> int:
        """Input samples (at ``sample_rate``) still missing before the next scheduled check.

        A server batching small network frames can flush as soon as its buffer holds this
        many, so a verdict is not held back by the batching interval.
        """
        need = max(0, self._next_at - self._n)
        return int(np.ceil(need * self.input_rate / self.model_rate))

    @property
    def started(self) -> bool:
        """True once the first verdict has been issued."""
        return self._seq > 0

    # -- input --------------------------------------------------------------------------
    def push(
        self, data: bytes | bytearray | memoryview | np.ndarray, *, catch_up: bool = False
    ) -> list[StreamUpdate]:
        """Add audio; return the verdicts this chunk triggered (usually none or one).

        ``catch_up=True`` appends the whole chunk and runs at most one check at its end
        (a server that fell behind clears its backlog with one verdict instead of one
        per check point the backlog spans).

        Raises
        ------
        AudioTooLongError
            The stream passed ``max_seconds`` (audio up to the limit is kept).
        """
        self._check_open()
        y = self._decode(data)
        if y.size == 0:
            return []
        limit = int(self.max_seconds * self.input_rate) - self._received
        over = y.size > limit
        if over:
            y = y[: max(limit, 0)]
        self._received += y.size
        y = self._resample(y, last=False)
        if over:
            self._append(y)
            raise AudioTooLongError(
                f"The stream is longer than max_seconds={self.max_seconds:g}; "
                "scoring stopped at the limit."
            )
        # Append up to each scheduled check point and evaluate there, so the verdicts do
        # not depend on how the audio was chunked (a large chunk would otherwise skip the
        # 2-s first-verdict point and report on more speech than promised).
        if catch_up:
            self._append(y)
            return self._maybe_evaluate()
        updates: list[StreamUpdate] = []
        pos = 0
        while pos < y.size:
            step = max(1, self._next_at - self._n)
            self._append(y[pos : pos + step])
            pos += step
            updates += self._maybe_evaluate()
        return updates

    def push_silence(self, n_samples: int) -> list[StreamUpdate]:
        """Add ``n_samples`` of silence at the input rate (e.g. to fill lost packets)."""
        if n_samples <= 0:
            return []
        return self.push(np.zeros(int(n_samples), dtype=np.float32))

    def finish(self) -> StreamUpdate:
        """Flush the resampler and return the final verdict on the whole stream."""
        self._check_open()
        self._finished = True
        if self._resampler is not None:
            self._append(self._resample(np.zeros(0, dtype=np.float32), last=True))
        decision = self._decide_frozen(final=True) if self._frozen is not None else self._decide()
        update = self._issue(decision, final=True)
        logger.debug(
            "stream finished: %.1f s, %d verdicts, %d windows scored",
            self.audio_seconds, self._seq, self.windows_scored,
        )  # fmt: skip
        return update

    # -- internals ----------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._finished:
            raise ParameterError("This StreamingScorer is finished; create a new one.")

    def _decode(self, data: bytes | bytearray | memoryview | np.ndarray) -> np.ndarray:
        if isinstance(data, np.ndarray):
            y = np.asarray(data, dtype=np.float32).reshape(-1)
            if not np.isfinite(y).all():
                raise ParameterError.invalid("data", "finite samples", "NaN or Inf")
            return y
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ParameterError.invalid("data", "bytes or a numpy array", type(data).__name__)
        if self.encoding == "float32":
            raise ParameterError.invalid("data", "a numpy array for encoding 'float32'", "bytes")
        raw = self._pending + bytes(data)
        width = 2 if self.encoding == "pcm_s16le" else 1
        usable = len(raw) - len(raw) % width
        self._pending = raw[usable:]
        if usable == 0:
            return np.zeros(0, dtype=np.float32)
        return decode_raw(raw[:usable], encoding=self.encoding, sr=self.input_rate)

    def _resample(self, y: np.ndarray, *, last: bool) -> np.ndarray:
        if self._resampler is None:
            return y
        return np.asarray(self._resampler.resample_chunk(y, last=last), dtype=np.float32)

    def _append(self, y: np.ndarray) -> None:
        if y.size == 0:
            return
        self.clipped += int(np.count_nonzero(np.abs(y) > 1.0))
        used = self._n - self._base
        need = used + y.size
        if need > self._buf.size:
            keep = self._base
            if self._frozen is not None:  # drop the history no VAD run will look at again
                keep = max(self._base, self._frozen.vad_start())
            drop = keep - self._base
            size = (
                self._buf.size
                if need - drop <= self._buf.size
                else max(need - drop, 2 * self._buf.size)
            )
            grown = np.zeros(size, dtype=np.float32)
            grown[: used - drop] = self._buf[drop:used]
            self._buf, self._base = grown, keep
            used -= drop
            need -= drop
        np.clip(y, -1.0, 1.0, out=self._buf[used:need])
        self._n += y.size

    def _interval_samples(self) -> int:
        seconds = max(self.interval_seconds, self.interval_growth * self.audio_seconds)
        return max(1, round(seconds * self.model_rate))

    def _maybe_evaluate(self) -> list[StreamUpdate]:
        if self._n < self._next_at:
            return []
        if self._frozen is not None:
            decision = self._decide_frozen(final=False)
            if not self.started:
                self._next_at = self._n + max(1, round(self.probe_seconds * self.model_rate))
                if (
                    decision.verdict == VERDICT_NOT_ENOUGH_SPEECH
                    or decision.speech_seconds < self.first_speech
                ):
                    return []
            # Work per update is bounded, so the interval does not grow with the call.
            self._next_at = self._n + max(1, round(self.interval_seconds * self.model_rate))
            return [self._issue(decision, final=False)]
        if not self.started:
            # Probe the trailing audio before paying for a full VAD of the prefix.
            self._next_at = self._n + max(1, round(self.probe_seconds * self.model_rate))
            ctx = max(1, round(self.probe_context_seconds * self.model_rate))
            if self._speech_seconds(self._buf[max(0, self._n - ctx) : self._n]) < self.first_speech:
                return []
            decision = self._decide()
            if decision.verdict == VERDICT_NOT_ENOUGH_SPEECH:
                return []  # the whole-prefix VAD disagrees with the probe: keep probing
        else:
            decision = self._decide()
        self._next_at = self._n + self._interval_samples()
        return [self._issue(decision, final=False)]

    def _speech_seconds(self, y: np.ndarray) -> float:
        regions = self.pipeline.speech_regions(y)
        if not len(regions):
            return 0.0
        return float(np.sum(regions[:, 1] - regions[:, 0])) / self.model_rate

    def _issue(self, decision: Decision, *, final: bool) -> StreamUpdate:
        self._seq += 1
        self.latest = StreamUpdate(self._seq, self._n / self.model_rate, decision, final=final)
        return self.latest

    def _decide(self) -> Decision:
        """Offline decision of everything received so far (window scores cached)."""
        t0 = time.perf_counter()
        y = self._buf[: self._n]
        regions = self.pipeline.speech_regions(y)
        windows = self.pipeline.cut(y, regions)
        self._backend.bind(windows, _window_keys(windows, regions))
        lazy = _IndexWindows(windows.speech, windows.starts, windows.length, windows.spans)
        return self.pipeline.decide(
            lazy,
            duration=self._n / self.model_rate,
            prior=self.prior,
            thresholds=self.thresholds,
            audio_meta=self._meta(),
            t0=t0,
            backend=self._backend,
        )

    def _decide_frozen(self, *, final: bool) -> Decision:
        """``frozen`` mode: freeze, score the newly complete windows, decide on them."""
        t0 = time.perf_counter()
        fz = self._frozen
        assert fz is not None  # internal invariant (frozen mode)
        backend = self.pipeline.backend
        fz.update(self._buf, self._base, self._n, final=final)
        if final:
            fz.finish_windows(backend)
        else:
            fz.score_complete(backend)
        raw, spans = np.asarray(fz.scores, dtype=np.float64), fz.spans
        heard = fz.speech_n + (0 if final else fz.tail_samples)
        if not fz.scores:  # no complete window yet: one provisional window, or none
            need = fz.min_len if self.started else round(self.first_speech * self.model_rate)
            if final or heard < need:
                raw, spans = np.zeros(0), []
            else:
                raw, spans = fz.provisional(backend)
        windows = _IndexWindows(
            fz.speech, np.zeros(len(raw), dtype=np.int64), fz.length,
            np.asarray(spans, dtype=np.float64).reshape(-1, 2),
        )  # fmt: skip
        return self.pipeline.decide(
            windows,
            duration=self._n / self.model_rate,
            prior=self.prior,
            thresholds=self.thresholds,
            audio_meta=self._meta(),
            t0=t0,
            backend=_ListBackend(raw),
            speech_seconds=heard / self.model_rate,
        )

    def _meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "sr": self.model_rate,
            "source_sr": self.input_rate,
            "channels": 1,
            "codec": _CODECS[self.encoding],
            "container": "stream",
            "bit_depth": {"pcm_s16le": 16, "mulaw": 8, "alaw": 8}.get(self.encoding),
            "duration": round(self._n / self.model_rate, 4),
        }
        if self.clipped:
            meta["clipped_samples"] = self.clipped
        return meta
