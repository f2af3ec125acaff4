"""Detector: a verified model directory turned into call-level decisions.

Data flow (the same for the CLI, the API, live streams and batch jobs)::

    bytes -> Audio (decode, channel, resample) -> speech regions (VAD)
          -> windows over the concatenated speech -> raw window scores (model)
          -> call score = mean of the top-k window scores -> LLR (calibration)
          -> P(spoof) for a prior, risk tier from LLR thresholds

Aggregation rule: the call's raw score is the mean of the ``top_k`` highest
window scores (all windows when there are fewer; ``top_k=0`` averages every
window). A voice clone rarely fools every window, and a genuine caller should
not be flagged by a single odd window, so a small ``k`` trades the two off.
The calibration is affine and increasing, so this equals the mean of the top-k
window LLRs.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .audio.io import RawFormat, load_audio, resample
from .audio.types import Audio
from .audio.vad import speech_regions
from .audio.windows import SpeechWindows, cut_windows
from .backends import Backend, GMMBackend, OnnxBackend, build_backend
from .calibration import LogisticCalibrator, TierThresholds, assign_tier, logit, posterior
from .config import VadConfig, WindowConfig
from .constants import (
    TIER_NOT_ENOUGH_SPEECH,
    VERDICT_BONAFIDE,
    VERDICT_NOT_ENOUGH_SPEECH,
    VERDICT_SPOOF,
)
from .exceptions import IncompatibleModelError, ParameterError
from .registry import ModelDir, load_model_dir

__all__ = [
    "Backend",
    "Decision",
    "Detector",
    "GMMBackend",
    "OnnxBackend",
    "WindowScore",
    "build_backend",
    "load_detector",
]

logger = logging.getLogger(__name__)

@dataclass(frozen=True)
class WindowScore:
    """Score of one window; ``start``/``end`` in seconds of the recording."""

    start: float
    end: float
    score: float
    llr: float
    p_spoof: float


@dataclass(frozen=True)
class Decision:
    """The verdict on one recording or call.

    ``llr``, ``p_spoof`` and ``score`` are ``None`` when the verdict is
    ``not_enough_speech``.
    """

    verdict: str
    tier: str
    p_spoof: float | None
    llr: float | None
    score: float | None
    speech_seconds: float
    duration: float
    prior: float
    thresholds: dict[str, float]
    model: dict[str, str]
    windows: list[WindowScore] = field(default_factory=list)
    audio: dict[str, Any] = field(default_factory=dict)
    processing_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


def aggregate(scores: np.ndarray, *, top_k: int) -> float:
    """Mean of the ``top_k`` highest scores (``top_k=0``: mean of all)."""
    if scores.size == 0:
        raise ParameterError.invalid("scores", "at least one window score", 0)
    if top_k == 0 or top_k >= scores.size:
        return float(np.mean(scores))
    return float(np.mean(np.partition(scores, -top_k)[-top_k:]))


class Detector:
    """Scores recordings with one model directory.

    Parameters
    ----------
    model : ModelDir
        A verified model directory (see :func:`audio_detect.registry.load_model_dir`).
    vad_aggressiveness : int, optional
        WebRTC VAD mode 0-3 used to find speech; default the manifest's ``vad``
        (mode 2 for manifests without one).
    intra_op_threads : int, optional
        Threads per onnxruntime call (``None``: one per core). A server that scores on
        N threads at once should pass 1.
    """

    def __init__(
        self,
        model: ModelDir,
        *,
        vad_aggressiveness: int | None = None,
        intra_op_threads: int | None = None,
    ) -> None:
        self.model = model
        spec = model.spec
        self.spec = spec
        self.model_rate = spec.model_rate
        self.window: WindowConfig = spec.window
        self.vad: VadConfig = (
            spec.vad
            if vad_aggressiveness is None
            else dataclasses.replace(spec.vad, aggressiveness=vad_aggressiveness)
        )
        self.max_seconds = spec.limits.max_seconds
        self.calibrator = LogisticCalibrator.from_dict(spec.calibration.to_dict())
        if spec.thresholds is None:
            raise IncompatibleModelError(f"{model.path}: manifest has no tier 'thresholds'")
        self.thresholds = spec.thresholds
        self.prior = spec.prior
        self.backend: Backend = build_backend(model, intra_op_threads=intra_op_threads)

    @property
    def sample_rate(self) -> int:
        """Alias of :attr:`model_rate`, the rate the model runs at."""
        return self.model_rate

    @property
    def vad_aggressiveness(self) -> int:
        """WebRTC VAD mode of :attr:`vad`."""
        return self.vad.aggressiveness

    @classmethod
    def load(cls, name_or_path: str | Path | None = None, **kwargs: Any) -> Detector:
        """Load, verify and wrap a model by name or path (``None`` = default model)."""
        return cls(load_model_dir(name_or_path), **kwargs)

    @property
    def info(self) -> dict[str, str]:
        """Name, version and sha256 of the model."""
        return {"name": self.model.name, "version": self.model.version, "sha256": self.model.sha256}

    # -- entry points ---------------------------------------------------------------------
    def score_file(
        self,
        source: str | Path | bytes | BinaryIO,
        *,
        channel: str | int = "mix",
        max_seconds: float | None = None,
        raw: RawFormat | None = None,
        **kwargs: Any,
    ) -> Decision:
        """Decode ``source`` with :func:`load_audio` and score it.

        ``max_seconds`` defaults to the model's ``limits.max_seconds``
        (:data:`~audio_detect.constants.DEFAULT_MAX_SECONDS`).
        """
        audio = load_audio(
            source,
            sr=self.model_rate,
            channel=channel,
            max_seconds=self.max_seconds if max_seconds is None else max_seconds,
            raw=raw,
        )
        return self.score_audio(audio, **kwargs)

    def score_audio(self, audio: Audio, **kwargs: Any) -> Decision:
        """Score a decoded :class:`Audio` (resampled here if needed)."""
        y = audio.samples
        if audio.sr != self.model_rate:
            y = resample(y, orig_sr=audio.sr, target_sr=self.model_rate)
        return self.score_samples(y, audio_meta=audio.metadata(), **kwargs)

    def speech_windows(self, y: np.ndarray, *, window: WindowConfig | None = None) -> SpeechWindows:
        """Find speech in ``y`` (at the model rate) and cut it into windows."""
        return cut_windows(
            y, sr=self.model_rate, regions=self.speech_regions(y), config=window or self.window
        )

    def speech_regions(self, y: np.ndarray) -> np.ndarray:
        """Speech regions ``(n, 2)`` of ``y`` (at the model rate), with the model's VAD."""
        return speech_regions(y, sr=self.model_rate, **self.vad.kwargs())

    def score_samples(
        self,
        y: np.ndarray,
        *,
        prior: float | None = None,
        thresholds: TierThresholds | None = None,
        window: WindowConfig | None = None,
        audio_meta: dict[str, Any] | None = None,
    ) -> Decision:
        """Score mono float samples at the model rate.

        Parameters
        ----------
        y : np.ndarray
            Samples at :attr:`model_rate`.
        prior : float, optional
            P(spoof) used for the posterior; defaults to the model's.
        thresholds : TierThresholds, optional
            Per-request tier thresholds; default from the model manifest.
        window : WindowConfig, optional
            Per-request windowing; default from the model manifest.
        """
        t0 = time.perf_counter()
        y = np.asarray(y, dtype=np.float32)
        if y.ndim != 1:
            raise ParameterError.invalid("y", "a 1-D mono array", y.shape)
        windows = self.speech_windows(y, window=window)
        return self.decide(
            windows,
            duration=len(y) / self.model_rate,
            prior=prior,
            thresholds=thresholds,
            window=window,
            audio_meta=audio_meta,
            t0=t0,
        )

    def decide(
        self,
        windows: SpeechWindows,
        *,
        duration: float,
        prior: float | None = None,
        thresholds: TierThresholds | None = None,
        window: WindowConfig | None = None,
        audio_meta: dict[str, Any] | None = None,
        t0: float | None = None,
    ) -> Decision:
        """Score already-cut windows and turn them into a :class:`Decision`."""
        t0 = time.perf_counter() if t0 is None else t0
        prior = self.prior if prior is None else prior
        logit(prior)  # validates the prior
        thresholds = thresholds or self.thresholds
        cfg = window or self.window
        speech_s = len(windows.speech) / self.model_rate
        common = {
            "speech_seconds": round(speech_s, 3),
            "duration": round(duration, 3),
            "prior": prior,
            "thresholds": thresholds.to_dict(),
            "model": self.info,
            "audio": audio_meta or {},
        }
        if len(windows) == 0:
            return Decision(
                verdict=VERDICT_NOT_ENOUGH_SPEECH,
                tier=TIER_NOT_ENOUGH_SPEECH,
                p_spoof=None,
                llr=None,
                score=None,
                processing_ms=round((time.perf_counter() - t0) * 1e3, 2),
                **common,
            )
        raw = self.backend.score_windows(windows.stacked())
        win_llr = np.asarray(self.calibrator.transform(raw), dtype=np.float64)
        win_p = np.asarray(posterior(win_llr, prior=prior), dtype=np.float64)
        call_score = aggregate(raw, top_k=cfg.top_k)
        llr = float(self.calibrator.transform(call_score))
        p = float(posterior(llr, prior=prior))
        timeline = [
            WindowScore(
                start=round(float(s), 3),
                end=round(float(e), 3),
                score=float(r),
                llr=float(lv),
                p_spoof=float(pv),
            )
            for (s, e), r, lv, pv in zip(windows.spans, raw, win_llr, win_p, strict=True)
        ]
        return Decision(
            verdict=VERDICT_SPOOF if p >= 0.5 else VERDICT_BONAFIDE,
            tier=assign_tier(llr, thresholds),
            p_spoof=p,
            llr=llr,
            score=call_score,
            windows=timeline,
            processing_ms=round((time.perf_counter() - t0) * 1e3, 2),
            **common,
        )

    def score_many(self, sources: Sequence[str | Path], **kwargs: Any) -> list[Decision]:
        """Score several files one after the other."""
        return [self.score_file(s, **kwargs) for s in sources]


def load_detector(name_or_path: str | Path | None = None, **kwargs: Any) -> Detector:
    """Load a :class:`Detector` by model name or path (``None`` = the default model)."""
    return Detector.load(name_or_path, **kwargs)
