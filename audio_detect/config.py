"""Frozen configuration dataclasses, serialisable to and from plain dicts (JSON/YAML).

A model directory stores its :class:`FeatureConfig` and :class:`WindowConfig` next to
its weights, so serving always computes the features the model was trained on.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Self

from .constants import (
    DEFAULT_MAX_SECONDS,
    DEFAULT_MODEL_RATE,
    DEFAULT_VAD_AGGRESSIVENESS,
    DEFAULT_VAD_FRAME_MS,
    DEFAULT_VAD_MERGE_GAP_MS,
    DEFAULT_VAD_MIN_SPEECH_MS,
    DEFAULT_VAD_PAD_MS,
    MODEL_RATES,
    rates_text,
)
from .exceptions import ParameterError

__all__ = [
    "AudioConfig",
    "FeatureConfig",
    "LimitsConfig",
    "VadConfig",
    "WindowConfig",
    "from_dict",
    "to_dict",
]

FEATURE_KINDS = ("lfcc", "mfcc", "cqcc", "logmel", "linear", "raw")


class _DictMixin:
    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a plain dict (tuples become lists)."""
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Build from a dict, rejecting unknown keys with a :class:`ParameterError`."""
        return from_dict(cls, data)


@dataclass(frozen=True)
class AudioConfig(_DictMixin):
    """How input audio is brought to the model.

    Parameters
    ----------
    sr : int
        Sample rate the model runs at (input is resampled with soxr).
    max_seconds : float
        Longest input accepted; decoding stops with ``AudioTooLongError`` past it.
    channel : str or int
        ``"mix"`` to average channels, or a 0-based channel index (the caller's side).
    """

    sr: int = DEFAULT_MODEL_RATE
    max_seconds: float = DEFAULT_MAX_SECONDS
    channel: str | int = "mix"

    def __post_init__(self) -> None:
        if self.sr not in MODEL_RATES:
            raise ParameterError.invalid("sr", rates_text(), self.sr)
        if not self.max_seconds > 0:
            raise ParameterError.invalid("max_seconds", "a positive number", self.max_seconds)


@dataclass(frozen=True)
class FeatureConfig(_DictMixin):
    """Spectral front end; names follow librosa (``n_fft``, ``hop_length``, ``win_length``).

    Parameters
    ----------
    kind : str
        One of ``lfcc``, ``mfcc``, ``cqcc``, ``logmel``, ``linear``, ``raw``.
    sr : int
        Sample rate the features are computed at.
    n_fft, win_length, hop_length : int
        STFT size, window length and hop, in samples.
    n_filter : int
        Number of filters (linear for LFCC, mel for MFCC/log-mel).
    n_coeff : int
        Number of cepstral coefficients kept (c0 included).
    fmin, fmax : float
        Band of the filter bank; ``fmax=None`` means ``sr / 2``.
    deltas : bool
        Append delta and delta-delta coefficients.
    """

    kind: str = "lfcc"
    sr: int = DEFAULT_MODEL_RATE
    n_fft: int = 512
    win_length: int = 320
    hop_length: int = 160
    n_filter: int = 20
    n_coeff: int = 20
    fmin: float = 0.0
    fmax: float | None = None
    deltas: bool = True

    def __post_init__(self) -> None:
        if self.kind not in FEATURE_KINDS:
            raise ParameterError.invalid("kind", f"one of {FEATURE_KINDS}", self.kind)
        if self.win_length > self.n_fft:
            raise ParameterError.invalid("win_length", f"<= n_fft={self.n_fft}", self.win_length)
        if self.hop_length <= 0:
            raise ParameterError.invalid("hop_length", "a positive integer", self.hop_length)


@dataclass(frozen=True)
class WindowConfig(_DictMixin):
    """How a recording of any length is cut into scored windows and aggregated.

    Parameters
    ----------
    window_seconds : float
        Length of one scored window of speech.
    hop_seconds : float
        Step between window starts.
    min_speech_seconds : float
        Below this much detected speech the verdict is ``not_enough_speech``.
    top_k : int
        The call score is the mean of the ``top_k`` highest window LLRs
        (all windows when fewer). ``top_k=0`` means the mean of all windows.
    """

    window_seconds: float = 4.0
    hop_seconds: float = 1.0
    min_speech_seconds: float = 1.0
    top_k: int = 3

    def __post_init__(self) -> None:
        if not self.window_seconds > 0:
            raise ParameterError.invalid("window_seconds", "> 0", self.window_seconds)
        if not 0 < self.hop_seconds <= self.window_seconds:
            raise ParameterError.invalid(
                "hop_seconds", f"in (0, window_seconds={self.window_seconds}]", self.hop_seconds
            )
        if self.min_speech_seconds < 0:
            raise ParameterError.invalid("min_speech_seconds", ">= 0", self.min_speech_seconds)
        if self.top_k < 0:
            raise ParameterError.invalid("top_k", ">= 0", self.top_k)


@dataclass(frozen=True)
class VadConfig(_DictMixin):
    """The speech finder whose regions decide which windows a model scores.

    Arguments of :func:`audio_detect.audio.vad.speech_regions` (WebRTC VAD behind an
    energy gate). A manifest without a ``vad`` object gets these defaults, which are
    what every model shipped before the field existed was evaluated with.

    Parameters
    ----------
    aggressiveness : int
        WebRTC VAD mode, 0 (least) to 3 (most aggressive in rejecting non-speech).
    frame_ms : int
        VAD frame: 10, 20 or 30 ms.
    min_speech_ms, merge_gap_ms, pad_ms : int
        Smoothing: drop shorter runs, merge closer runs, pad both sides.
    """

    aggressiveness: int = DEFAULT_VAD_AGGRESSIVENESS
    frame_ms: int = DEFAULT_VAD_FRAME_MS
    min_speech_ms: int = DEFAULT_VAD_MIN_SPEECH_MS
    merge_gap_ms: int = DEFAULT_VAD_MERGE_GAP_MS
    pad_ms: int = DEFAULT_VAD_PAD_MS

    def __post_init__(self) -> None:
        if isinstance(self.aggressiveness, bool) or self.aggressiveness not in (0, 1, 2, 3):
            raise ParameterError.invalid("aggressiveness", "0, 1, 2 or 3", self.aggressiveness)
        if isinstance(self.frame_ms, bool) or self.frame_ms not in (10, 20, 30):
            raise ParameterError.invalid("frame_ms", "10, 20 or 30", self.frame_ms)
        for name in ("min_speech_ms", "merge_gap_ms", "pad_ms"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ParameterError.invalid(name, "a non-negative integer", value)

    def kwargs(self) -> dict[str, int]:
        """Keyword arguments of :func:`~audio_detect.audio.vad.speech_regions`."""
        return to_dict(self)


@dataclass(frozen=True)
class LimitsConfig(_DictMixin):
    """Input limits a model declares (callers may lower them per request).

    Parameters
    ----------
    max_seconds : float
        Longest recording decoded for offline scoring.
    """

    max_seconds: float = DEFAULT_MAX_SECONDS

    def __post_init__(self) -> None:
        if isinstance(self.max_seconds, bool) or not (
            isinstance(self.max_seconds, int | float) and self.max_seconds > 0
        ):
            raise ParameterError.invalid("max_seconds", "a positive number", self.max_seconds)


def to_dict(obj: Any) -> dict[str, Any]:
    """Return a dataclass instance as a JSON-ready dict."""
    out = dataclasses.asdict(obj)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


def from_dict(cls: type[Any], data: dict[str, Any]) -> Any:
    """Build dataclass ``cls`` from ``data``; unknown keys raise :class:`ParameterError`."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ParameterError(
            f"Unknown {cls.__name__} keys {unknown}; allowed keys are {sorted(names)}."
        )
    return cls(**data)
