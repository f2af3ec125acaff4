"""Detector: a verified model directory turned into call-level decisions.

Data flow (the same for the CLI, the API, live streams and batch jobs)::

    bytes -> Audio (decode, channel, resample)              Detector.score_file/_audio
          -> speech regions (VAD)                           \
          -> windows over the concatenated speech            |  Detector.pipeline,
          -> raw window scores (model backend)               |  a ScoringPipeline
          -> call score = mean of the top-k window scores    |  (audio_detect.scoring)
          -> LLR (calibration) -> P(spoof), risk tier        /

A :class:`Detector` loads a model (hashes verified, :class:`~audio_detect.spec.ModelSpec`
parsed once), builds its window scorer and its one :class:`ScoringPipeline`, and decodes
inputs; everything after decoding is the pipeline's. Live streams
(:mod:`audio_detect.streaming`) call the same pipeline object.

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
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .audio.io import RawFormat, load_audio, resample
from .audio.types import Audio
from .audio.windows import SpeechWindows
from .backends import Backend, GMMBackend, OnnxBackend, build_backend
from .calibration import LogisticCalibrator, TierThresholds
from .config import VadConfig, WindowConfig
from .exceptions import IncompatibleModelError
from .registry import ModelDir, load_model_dir
from .scoring import Decision, ScoringPipeline, WindowScore, aggregate

__all__ = [
    "Backend",
    "Decision",
    "Detector",
    "GMMBackend",
    "OnnxBackend",
    "ScoringPipeline",
    "WindowScore",
    "aggregate",
    "build_backend",
    "load_detector",
]

logger = logging.getLogger(__name__)


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
        self.max_seconds = spec.limits.max_seconds
        if spec.thresholds is None:
            raise IncompatibleModelError(f"{model.path}: manifest has no tier 'thresholds'")
        vad = (
            spec.vad
            if vad_aggressiveness is None
            else dataclasses.replace(spec.vad, aggressiveness=vad_aggressiveness)
        )
        calibrator = LogisticCalibrator.from_dict(spec.calibration.to_dict())
        backend = build_backend(model, intra_op_threads=intra_op_threads)
        #: The one pipeline every caller of this model goes through (offline and live).
        self.pipeline = ScoringPipeline(
            model_rate=spec.model_rate,
            vad=vad,
            window=spec.window,
            backend=backend,
            calibrator=calibrator,
            thresholds=spec.thresholds,
            prior=spec.prior,
            info=self.info,
        )

    # The pipeline's settings, under the names callers have always used.
    @property
    def window(self) -> WindowConfig:
        """Default window rule (``spec.window``)."""
        return self.pipeline.window

    @property
    def vad(self) -> VadConfig:
        """Speech finder settings (``spec.vad``, or the constructor's mode)."""
        return self.pipeline.vad

    @property
    def calibrator(self) -> LogisticCalibrator:
        """Raw score -> LLR map."""
        return self.pipeline.calibrator

    @property
    def thresholds(self) -> TierThresholds:
        """Default risk-tier thresholds."""
        return self.pipeline.thresholds

    @property
    def prior(self) -> float:
        """Default P(spoof) prior."""
        return self.pipeline.prior

    @property
    def backend(self) -> Backend:
        """The window scorer (``pipeline.backend``)."""
        return self.pipeline.backend

    @backend.setter
    def backend(self, value: Backend) -> None:
        self.pipeline.backend = value

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
        return self.pipeline.speech_windows(y, window=window)

    def speech_regions(self, y: np.ndarray) -> np.ndarray:
        """Speech regions ``(n, 2)`` of ``y`` (at the model rate), with the model's VAD."""
        return self.pipeline.speech_regions(y)

    def score_samples(self, y: np.ndarray, **kwargs: Any) -> Decision:
        """Score mono float samples at :attr:`model_rate`: :meth:`ScoringPipeline.score_samples`.

        Keyword arguments: ``prior``, ``thresholds``, ``window``, ``audio_meta``.
        """
        return self.pipeline.score_samples(y, **kwargs)

    def decide(self, windows: SpeechWindows, **kwargs: Any) -> Decision:
        """Score already-cut windows: :meth:`ScoringPipeline.decide`."""
        return self.pipeline.decide(windows, **kwargs)

    def score_many(self, sources: Sequence[str | Path], **kwargs: Any) -> list[Decision]:
        """Score several files one after the other."""
        return [self.score_file(s, **kwargs) for s in sources]


def load_detector(name_or_path: str | Path | None = None, **kwargs: Any) -> Detector:
    """Load a :class:`Detector` by model name or path (``None`` = the default model)."""
    return Detector.load(name_or_path, **kwargs)
