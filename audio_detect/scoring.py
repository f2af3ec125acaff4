"""The scoring pipeline: samples at the model rate -> speech -> windows -> Decision.

One :class:`ScoringPipeline` per loaded model (``Detector.pipeline``) and every caller
goes through it: offline scoring (:meth:`Detector.score_file`), batch jobs, evaluation
and the calibration it feeds in training and fusion fitting, and live streams
(:class:`~audio_detect.streaming.StreamingScorer` calls the same object's
:meth:`~ScoringPipeline.speech_regions`, :meth:`~ScoringPipeline.cut` and
:meth:`~ScoringPipeline.decide`, passing its window-score cache as ``backend``).

Stages, all configured by the model's :class:`~audio_detect.spec.ModelSpec`::

    speech_regions(y)          WebRTC VAD + energy gate (spec.vad)
    cut(y, regions)            windows over the concatenated speech (spec.window)
    decide(windows)            backend window scores -> mean of the top-k
                               -> LLR (spec.calibration) -> P(spoof) (prior)
                               -> risk tier (spec.thresholds)

Aggregation rule: the call's raw score is the mean of the ``top_k`` highest window
scores (all windows when there are fewer; ``top_k=0`` averages every window). The
calibration is affine and increasing, so this equals the mean of the top-k window LLRs.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from .audio.vad import speech_regions
from .audio.windows import SpeechWindows, cut_windows
from .backends import Backend
from .calibration import LogisticCalibrator, TierThresholds, assign_tier, logit, posterior
from .config import VadConfig, WindowConfig
from .constants import (
    TIER_NOT_ENOUGH_SPEECH,
    VERDICT_BONAFIDE,
    VERDICT_NOT_ENOUGH_SPEECH,
    VERDICT_SPOOF,
)
from .exceptions import ParameterError

__all__ = ["Decision", "ScoringPipeline", "WindowScore", "aggregate"]


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
        """JSON-ready dict: what :func:`dataclasses.asdict` returns, built directly.

        ``asdict`` deep-copies every value one by one, 4x the CPU of this (every API
        response and audit record goes through here). Nothing is shared with the
        decision: the nested dicts are copied, the windows become new dicts.
        """
        out = {name: getattr(self, name) for name in _DECISION_FIELDS}
        out["thresholds"] = dict(self.thresholds)
        out["model"] = dict(self.model)
        out["windows"] = [{name: getattr(w, name) for name in _WINDOW_FIELDS} for w in self.windows]
        out["audio"] = copy.deepcopy(self.audio)
        return out


_DECISION_FIELDS = tuple(f.name for f in fields(Decision))
_WINDOW_FIELDS = tuple(f.name for f in fields(WindowScore))


def aggregate(scores: np.ndarray, *, top_k: int) -> float:
    """Mean of the ``top_k`` highest scores (``top_k=0``: mean of all)."""
    if scores.size == 0:
        raise ParameterError.invalid("scores", "at least one window score", 0)
    if top_k == 0 or top_k >= scores.size:
        return float(np.mean(scores))
    return float(np.mean(np.partition(scores, -top_k)[-top_k:]))


class ScoringPipeline:
    """The stages from mono samples at the model rate to a :class:`Decision`.

    Parameters
    ----------
    model_rate : int
        Rate of every array passed in (Hz).
    vad : VadConfig
        Speech finder settings.
    window : WindowConfig
        Window length, hop, minimum speech and top-k.
    backend : Backend
        Window scorer.
    calibrator : LogisticCalibrator
        Raw score -> LLR.
    thresholds : TierThresholds
        Default risk-tier thresholds.
    prior : float
        Default P(spoof) for posteriors.
    info : dict
        Model name, version and sha256, copied into every decision.
    """

    def __init__(
        self,
        *,
        model_rate: int,
        vad: VadConfig,
        window: WindowConfig,
        backend: Backend,
        calibrator: LogisticCalibrator,
        thresholds: TierThresholds,
        prior: float,
        info: dict[str, str],
    ) -> None:
        self.model_rate = int(model_rate)
        self.vad = vad
        self.window = window
        self.backend = backend
        self.calibrator = calibrator
        self.thresholds = thresholds
        self.prior = float(prior)
        self.info = dict(info)

    def speech_regions(self, y: np.ndarray) -> np.ndarray:
        """Speech regions ``(n, 2)`` (sample indices) of ``y``."""
        return speech_regions(y, sr=self.model_rate, **self.vad.kwargs())

    def cut(
        self, y: np.ndarray, regions: np.ndarray, *, window: WindowConfig | None = None
    ) -> SpeechWindows:
        """Windows over the speech ``regions`` of ``y``."""
        return cut_windows(y, sr=self.model_rate, regions=regions, config=window or self.window)

    def speech_windows(self, y: np.ndarray, *, window: WindowConfig | None = None) -> SpeechWindows:
        """:meth:`speech_regions` then :meth:`cut`."""
        return self.cut(y, self.speech_regions(y), window=window)

    def score_samples(
        self,
        y: np.ndarray,
        *,
        prior: float | None = None,
        thresholds: TierThresholds | None = None,
        window: WindowConfig | None = None,
        audio_meta: dict[str, Any] | None = None,
    ) -> Decision:
        """The whole pipeline on mono float samples at :attr:`model_rate`."""
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
        backend: Backend | None = None,
        speech_seconds: float | None = None,
    ) -> Decision:
        """Score already-cut windows and turn them into a :class:`Decision`.

        ``backend`` replaces :attr:`backend` for this call only (a live stream passes
        its cache of window scores, which wraps this pipeline's backend).
        ``speech_seconds`` overrides ``len(windows.speech)`` (a live stream that keeps
        only the tail of its speech passes the total it has heard).
        """
        t0 = time.perf_counter() if t0 is None else t0
        prior = self.prior if prior is None else prior
        logit(prior)  # validates the prior
        thresholds = thresholds or self.thresholds
        cfg = window or self.window
        speech_s = (
            len(windows.speech) / self.model_rate if speech_seconds is None else speech_seconds
        )
        common = {
            "speech_seconds": round(speech_s, 3),
            "duration": round(duration, 3),
            "prior": prior,
            "thresholds": thresholds.to_dict(),
            "model": dict(self.info),
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
        raw = (backend or self.backend).score_windows(windows.stacked())
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
