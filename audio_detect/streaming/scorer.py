"""The live-stream scorer: push audio chunks, get rolling verdicts.

The scoring modes, the timing of verdicts and the tolerance are described in
:mod:`audio_detect.streaming`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import soxr

from ..audio.io import RAW_ENCODINGS, decode_raw
from ..calibration import TierThresholds
from ..constants import (
    MAX_INPUT_RATE,
    MIN_INPUT_RATE,
    STREAM_MAX_SECONDS,
    TELEPHONY_RATE,
    VERDICT_NOT_ENOUGH_SPEECH,
)
from ..detector import Decision, Detector
from ..exceptions import AudioTooLongError, ParameterError
from .cache import CachingBackend, IndexWindows, ListBackend, window_keys
from .frozen import PCM16_SCALE, FrozenSpeech, as_float32, compact, is_pcm16

__all__ = ["STREAM_ENCODINGS", "STREAM_SCORING_MODES", "StreamUpdate", "StreamingScorer"]

logger = logging.getLogger(__name__)

#: Encodings :meth:`StreamingScorer.push` accepts (``float32``: numpy arrays in [-1, 1]).
STREAM_ENCODINGS = (*RAW_ENCODINGS, "float32")
_CODECS = {
    "pcm_s16le": "pcm_s16le",
    "mulaw": "pcm_mulaw",
    "alaw": "pcm_alaw",
    "float32": "pcm_f32le",
}

#: Scoring modes of :class:`StreamingScorer` (see :mod:`audio_detect.streaming`).
STREAM_SCORING_MODES = ("frozen", "exact")


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


class StreamingScorer:
    """Push audio chunks, get rolling call verdicts; see :mod:`audio_detect.streaming`.

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
        ``frozen`` mode: frozen audio whose frame levels and decisions each check
        gates and smooths again before the provisional part (the noise-floor estimate;
        each frame is classified only once). The audio buffer keeps only the audio an
        update still reads: the context, one interval and a second (5 s by default), or
        this look-back at a model rate WebRTC does not run at.
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
        self._backend = CachingBackend(self.pipeline.backend)
        self._resampler = (
            soxr.ResampleStream(sample_rate, self.model_rate, 1, dtype="float32", quality="HQ")
            if sample_rate != self.model_rate
            else None
        )
        self.scoring = scoring
        # What one check reads back (frozen mode): the freeze context and the audio of
        # one interval. Both buffers are sized from it and reused in place, so that a
        # call's audio state stays a few hundred kB (200 calls per worker in
        # benchmarks/streams.py) and is allocated once.
        # PCM16, µ-law or A-law at the model rate (the telephone case) is kept as int16,
        # half of float32 and exactly the same samples (see frozen.PCM16_SCALE).
        check_span = round((freeze_context_seconds + self.interval_seconds) * self.model_rate)
        pcm16 = scoring == "frozen" and encoding != "float32" and self._resampler is None
        dtype = np.int16 if pcm16 else np.float32
        self._frozen = (
            FrozenSpeech(
                self.pipeline,
                context=round(freeze_context_seconds * self.model_rate),
                lookback=round(vad_lookback_seconds * self.model_rate),
                room=check_span,
                dtype=dtype,
            )
            if scoring == "frozen"
            else None
        )
        # Frozen mode keeps that span and one second more (see _append); the other mode
        # keeps the whole call and grows the buffer by doubling.
        history = check_span + self.model_rate if self._frozen is not None else 16 * self.model_rate
        self._buf = np.zeros(max(1, history), dtype=dtype)
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
            if self._buf.dtype == np.int16 and not is_pcm16(y):
                self._to_float32()  # samples PCM16 cannot hold: float32 from now on
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

    def _to_float32(self) -> None:
        self._buf = as_float32(self._buf)
        if self._frozen is not None:
            self._frozen.to_float32()

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
            if self._frozen is not None:  # drop the history no update will read again
                keep = max(self._base, self._frozen.buffer_start())
            drop = keep - self._base
            self._buf = compact(self._buf, drop, used, need - drop)
            self._base = keep
            used -= drop
            need -= drop
        if self._buf.dtype == np.int16:  # in range and exact: decode_raw's k / 32768, or checked
            np.multiply(y, PCM16_SCALE, out=self._buf[used:need], casting="unsafe")
        else:
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
        self._backend.bind(windows, window_keys(windows, regions))
        lazy = IndexWindows(windows.speech, windows.starts, windows.length, windows.spans)
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
        windows = IndexWindows(
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
            backend=ListBackend(raw),
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
