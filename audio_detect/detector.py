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

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import numpy as np

from .audio.io import RawFormat, load_audio, resample
from .audio.types import Audio
from .audio.vad import speech_regions
from .audio.windows import SpeechWindows, cut_windows
from .calibration import LogisticCalibrator, TierThresholds, assign_tier, logit, posterior
from .config import FeatureConfig, WindowConfig
from .constants import (
    TIER_NOT_ENOUGH_SPEECH,
    VERDICT_BONAFIDE,
    VERDICT_NOT_ENOUGH_SPEECH,
    VERDICT_SPOOF,
)
from .exceptions import IncompatibleModelError, ParameterError
from .registry import ModelDir, load_model_dir

__all__ = ["Decision", "Detector", "WindowScore", "build_backend", "load_detector"]

logger = logging.getLogger(__name__)

# Windows per onnxruntime call. Larger batches are not faster on CPU (the Whisper
# model: 8.7 ms per window in batches of 1 or 8) but onnxruntime's arena keeps the peak
# activations of the largest call, about 12 MB per 4 s window, for the life of the
# process: 32 windows per call cost the service 300 MB of RSS.
_ONNX_BATCH = 4


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


class Backend(Protocol):
    """Maps a batch of equal-length windows to raw scores (higher = spoof)."""

    def score_windows(self, windows: np.ndarray) -> np.ndarray:  # pragma: no cover - protocol
        """Score ``(n_windows, n_samples)`` float32 windows."""
        ...


class GMMBackend:
    """Classic backend: numpy/librosa features + the two-class GMM."""

    def __init__(self, model: ModelDir) -> None:
        # Imported here: scikit-learn (and with it pandas/pyarrow) and librosa add about
        # 110 MB to a process that serves an ONNX model and never needs them.
        from .classifiers.gmm import GMMClassifier
        from .features import compute_features

        self._compute = compute_features
        self.feature: FeatureConfig = model.feature
        self.clf = GMMClassifier.load(model.file(model.manifest.get("weights", "gmm.safetensors")))

    def score_windows(self, windows: np.ndarray) -> np.ndarray:
        """Mean frame LLR of each window."""
        feats = [self._compute(w, config=self.feature) for w in windows]
        return self.clf.decision_function(feats)


class OnnxBackend:
    """Neural backend: an ONNX graph with the feature front end inside (waveform in, score out)."""

    def __init__(self, model: ModelDir, *, intra_op_threads: int | None = None) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if intra_op_threads:
            opts.intra_op_num_threads = intra_op_threads
            # Servers run one single-threaded session call per scoring thread; idle
            # onnxruntime workers would otherwise spin and steal those threads' cores.
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        path = model.file(model.manifest.get("weights", "model.onnx"))
        try:
            self.session = ort.InferenceSession(
                str(path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise IncompatibleModelError(f"onnxruntime cannot load {path}: {exc}") from exc
        self.input_name = self.session.get_inputs()[0].name

    def score_windows(self, windows: np.ndarray) -> np.ndarray:
        """Run the graph on batches of windows."""
        out = []
        for i in range(0, len(windows), _ONNX_BATCH):
            batch = np.ascontiguousarray(windows[i : i + _ONNX_BATCH], dtype=np.float32)
            (scores,) = self.session.run(None, {self.input_name: batch})
            out.append(np.asarray(scores, dtype=np.float64).reshape(-1))
        return np.concatenate(out) if out else np.zeros(0)


def build_backend(model: ModelDir, *, intra_op_threads: int | None = None) -> Backend:
    """The window scorer of a verified model directory, by its ``format``.

    ``intra_op_threads`` caps the threads of each onnxruntime call (``None``: its
    default, one per core); numpy backends ignore it.
    """
    if model.format == "gmm":
        return GMMBackend(model)
    if model.format == "onnx":
        return OnnxBackend(model, intra_op_threads=intra_op_threads)
    if model.format == "fusion":
        from .fusion import FusionBackend

        return FusionBackend(model, intra_op_threads=intra_op_threads)
    # The registry already rejects other formats; kept for direct construction.
    raise IncompatibleModelError(f"Unsupported model format {model.format!r}")


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
    vad_aggressiveness : int
        WebRTC VAD mode 0-3 used to find speech.
    intra_op_threads : int, optional
        Threads per onnxruntime call (``None``: one per core). A server that scores on
        N threads at once should pass 1.
    """

    def __init__(
        self,
        model: ModelDir,
        *,
        vad_aggressiveness: int = 2,
        intra_op_threads: int | None = None,
    ) -> None:
        self.model = model
        self.sample_rate = model.sample_rate
        self.window: WindowConfig = model.window
        self.vad_aggressiveness = vad_aggressiveness
        m = model.manifest
        self.calibrator = LogisticCalibrator.from_dict(
            m.get("calibration") or LogisticCalibrator.identity().to_dict()
        )
        if "thresholds" not in m:
            raise IncompatibleModelError(f"{model.path}: manifest has no tier 'thresholds'")
        self.thresholds = TierThresholds.from_dict(m["thresholds"])
        self.prior = float(m.get("prior", 0.5))
        self.backend: Backend = build_backend(model, intra_op_threads=intra_op_threads)

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
        max_seconds: float = 4 * 3600.0,
        raw: RawFormat | None = None,
        **kwargs: Any,
    ) -> Decision:
        """Decode ``source`` with :func:`load_audio` and score it."""
        audio = load_audio(
            source, sr=self.sample_rate, channel=channel, max_seconds=max_seconds, raw=raw
        )
        return self.score_audio(audio, **kwargs)

    def score_audio(self, audio: Audio, **kwargs: Any) -> Decision:
        """Score a decoded :class:`Audio` (resampled here if needed)."""
        y = audio.samples
        if audio.sr != self.sample_rate:
            y = resample(y, orig_sr=audio.sr, target_sr=self.sample_rate)
        return self.score_samples(y, audio_meta=audio.metadata(), **kwargs)

    def speech_windows(self, y: np.ndarray, *, window: WindowConfig | None = None) -> SpeechWindows:
        """Find speech in ``y`` (at the model rate) and cut it into windows."""
        regions = speech_regions(y, sr=self.sample_rate, aggressiveness=self.vad_aggressiveness)
        return cut_windows(y, sr=self.sample_rate, regions=regions, config=window or self.window)

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
            Samples at :attr:`sample_rate`.
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
            duration=len(y) / self.sample_rate,
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
        speech_s = len(windows.speech) / self.sample_rate
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
