"""Mel-frequency cepstral coefficients (MFCC).

References
----------
.. [1] S. Davis, P. Mermelstein, "Comparison of parametric representations for
   monosyllabic word recognition in continuously spoken sentences", IEEE Trans. ASSP
   28(4), 1980.
.. [2] M. Sahidullah, T. Kinnunen, C. Hanilçi, "A comparison of features for synthetic
   speech detection", Proc. Interspeech 2015 (MFCC as a spoofing countermeasure).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from .spectrum import (
    DEFAULT_WINDOW,
    log_filterbank_features,
    mel_filterbank,
    resolve_framing,
)

__all__ = ["mfcc"]

logger = logging.getLogger(__name__)


def mfcc(
    *,
    y: np.ndarray,
    sr: int,
    n_mfcc: int = 20,
    n_mels: int = 40,
    n_fft: int = 512,
    win_length: int | None = None,
    hop_length: int | None = None,
    fmin: float = 0.0,
    fmax: float | None = None,
    deltas: bool = False,
    window: Any = DEFAULT_WINDOW,
    center: bool = True,
) -> np.ndarray:
    """Mel-frequency cepstral coefficients [1]_ [2]_.

    The LFCC pipeline with librosa's Slaney mel filter bank in place of the linear one:
    power STFT, ``n_mels`` mel filters, natural log floored at ``1e-10``, orthonormal
    DCT-II keeping ``n_mfcc`` coefficients including c0, optional 3-frame deltas.
    Unlike :func:`librosa.feature.mfcc` the log is natural rather than dB (a constant
    factor ``10 / ln 10``) and there is no ``top_db`` clipping.

    Parameters
    ----------
    y : np.ndarray
        1-D floating-point waveform. Any non-empty input yields at least one frame.
    sr : int
        Sample rate in Hz.
    n_mfcc : int
        Number of coefficients kept, c0 included (``<= n_mels``).
    n_mels : int
        Number of mel filters; 40 suits ``n_fft=512`` at 8-16 kHz (librosa's 128 would
        leave empty low-frequency filters).
    n_fft : int
        DFT size.
    win_length, hop_length : int or None
        Window and hop in samples; ``None`` means 20 ms and 10 ms.
    fmin, fmax : float
        Band of the filter bank in Hz; ``fmax=None`` means ``sr / 2``.
    deltas : bool
        Append delta and delta-delta coefficients (``False`` by default, like librosa).
    window : str, tuple or np.ndarray
        Analysis window.
    center : bool
        Centre frames on ``t * hop_length``.

    Returns
    -------
    np.ndarray
        float32 array of shape ``(n_mfcc * (3 if deltas else 1), n_frames)``.
    """
    sr, n_fft, win_length, hop_length = resolve_framing(sr, n_fft, win_length, hop_length)
    fbank = mel_filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    return log_filterbank_features(
        y=y,
        fbank=fbank,
        n_fft=n_fft,
        hop_length=hop_length,
        win_length=win_length,
        window=window,
        center=center,
        n_coeff=n_mfcc,
        coeff_name="n_mfcc",
        deltas=deltas,
    )
