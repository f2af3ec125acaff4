"""Acoustic front ends for spoofing countermeasures.

Every function takes keyword-only, librosa-named arguments and returns a float32
array of shape ``(n_features, n_frames)``:

* :func:`lfcc` - linear-frequency cepstral coefficients (ASVspoof 2019 LFCC-GMM baseline)
* :func:`cqcc` - constant-Q cepstral coefficients (Todisco et al. 2016/2017)
* :func:`mfcc` - mel-frequency cepstral coefficients
* :func:`logmel` - log-mel power spectrogram
* :func:`linear_spectrogram` - log-linear power spectrogram

:func:`compute_features` dispatches on a :class:`~audio_detect.config.FeatureConfig`.
:func:`build_frontend` (torch, imported lazily) builds the matching ``torch.nn.Module``
for neural models; this package itself imports without torch.

Short inputs: any input with at least one sample yields at least one frame (the
signal is zero-padded); an empty input raises
:class:`~audio_detect.exceptions.AudioTooShortError`. Non-finite samples raise
:class:`~audio_detect.exceptions.ParameterError`.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ..config import FeatureConfig
from ..exceptions import ParameterError
from .cqcc import cqcc
from .lfcc import lfcc
from .linear import linear_spectrogram
from .mel import logmel
from .mfcc import mfcc
from .spectrum import (
    DEFAULT_WINDOW,
    delta,
    linear_filterbank,
    mel_filterbank,
    power_spectrogram,
    validate_audio,
)

# ``build_frontend`` is reachable as an attribute (lazy, needs torch) but is left out of
# ``__all__`` so that ``from audio_detect.features import *`` never imports torch.
__all__ = [
    "compute_features",
    "cqcc",
    "delta",
    "lfcc",
    "linear_filterbank",
    "linear_spectrogram",
    "logmel",
    "mel_filterbank",
    "mfcc",
    "n_features",
    "power_spectrogram",
]

logger = logging.getLogger(__name__)


def _cqcc_fmin(config: FeatureConfig) -> float | None:
    # FeatureConfig.fmin defaults to 0 Hz, which a constant-Q transform cannot use.
    return config.fmin if config.fmin > 0 else None


def compute_features(y: np.ndarray, *, config: FeatureConfig) -> np.ndarray:
    """Compute the features described by ``config`` for a mono waveform.

    Field mapping (``config.sr`` is taken as the sample rate of ``y``; every STFT-based
    kind uses a Hamming window and ``center=True``):

    ============  =================================================================
    ``kind``      call
    ============  =================================================================
    ``lfcc``      :func:`lfcc` with ``n_filter``, ``n_lfcc=n_coeff``, ``n_fft``,
                  ``win_length``, ``hop_length``, ``fmin``, ``fmax``, ``deltas``
    ``mfcc``      :func:`mfcc` with ``n_mels=n_filter``, ``n_mfcc=n_coeff``, ``n_fft``,
                  ``win_length``, ``hop_length``, ``fmin``, ``fmax``, ``deltas``
    ``logmel``    :func:`logmel` with ``n_mels=n_filter``, ``n_fft``, ``win_length``,
                  ``hop_length``, ``fmin``, ``fmax``, ``deltas``
    ``linear``    :func:`linear_spectrogram` with ``n_fft``, ``win_length``,
                  ``hop_length``, ``deltas`` (``fmin``/``fmax``/``n_filter`` unused)
    ``cqcc``      :func:`cqcc` with ``hop_length``, ``n_cqcc=n_coeff``, ``fmax``,
                  ``deltas`` and ``fmin`` when > 0 (else 15.625 Hz); ``n_fft``,
                  ``win_length`` and ``n_filter`` are unused (48 bins per octave)
    ``raw``       the waveform itself as float32, shape ``(1, n_samples)``
    ============  =================================================================

    Parameters
    ----------
    y : np.ndarray
        1-D floating-point waveform at ``config.sr``.
    config : FeatureConfig
        Front-end description.

    Returns
    -------
    np.ndarray
        float32 array of shape ``(n_features(config), n_frames)``; deterministic.

    Raises
    ------
    ParameterError
        For non-finite or non-float input, or parameters the kind cannot use.
    AudioTooShortError
        If ``y`` is empty.
    """
    if not isinstance(config, FeatureConfig):
        raise ParameterError.invalid("config", "a FeatureConfig", type(config).__name__)
    kind = config.kind
    stft: dict[str, Any] = {
        "y": y,
        "sr": config.sr,
        "n_fft": config.n_fft,
        "win_length": config.win_length,
        "hop_length": config.hop_length,
        "deltas": config.deltas,
        "window": DEFAULT_WINDOW,
        "center": True,
    }
    band = {"fmin": config.fmin, "fmax": config.fmax}
    if kind == "lfcc":
        out = lfcc(**stft, **band, n_filter=config.n_filter, n_lfcc=config.n_coeff)
    elif kind == "mfcc":
        out = mfcc(**stft, **band, n_mels=config.n_filter, n_mfcc=config.n_coeff)
    elif kind == "logmel":
        out = logmel(**stft, **band, n_mels=config.n_filter)
    elif kind == "linear":
        out = linear_spectrogram(**stft)
    elif kind == "cqcc":
        out = cqcc(
            y=y,
            sr=config.sr,
            hop_length=config.hop_length,
            fmin=_cqcc_fmin(config),
            fmax=config.fmax,
            n_cqcc=config.n_coeff,
            deltas=config.deltas,
        )
    elif kind == "raw":
        out = validate_audio(y).astype(np.float32)[None, :]
    else:  # FeatureConfig validates kind; guard against future kinds.
        raise ParameterError.invalid("kind", "a supported feature kind", kind)
    logger.debug("compute_features(%s): %s", kind, out.shape)
    return out


def n_features(config: FeatureConfig) -> int:
    """Number of feature rows :func:`compute_features` returns for ``config``."""
    mult = 3 if config.deltas else 1
    if config.kind in ("lfcc", "mfcc", "cqcc"):
        return config.n_coeff * mult
    if config.kind == "logmel":
        return config.n_filter * mult
    if config.kind == "linear":
        return (config.n_fft // 2 + 1) * mult
    return 1


def __getattr__(name: str) -> Any:
    # Import the torch front end only on demand so the package works without torch.
    if name == "build_frontend":
        from .torch_frontend import build_frontend

        return build_frontend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
