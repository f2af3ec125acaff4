"""Linear-frequency cepstral coefficients (LFCC), as in the ASVspoof 2019 baseline.

References
----------
.. [1] M. Sahidullah, T. Kinnunen, C. Hanilçi, "A comparison of features for synthetic
   speech detection", Proc. Interspeech 2015, pp. 2087-2091.
.. [2] M. Todisco et al., "ASVspoof 2019: Future horizons in spoofed and fake audio
   detection", Proc. Interspeech 2019 (LFCC-GMM baseline, ``lfcc_bp.m``).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from .spectrum import (
    DEFAULT_WINDOW,
    linear_filterbank,
    log_filterbank_features,
    resolve_framing,
)

__all__ = ["lfcc"]

logger = logging.getLogger(__name__)


def lfcc(
    *,
    y: np.ndarray,
    sr: int,
    n_fft: int = 512,
    win_length: int | None = None,
    hop_length: int | None = None,
    n_filter: int = 20,
    n_lfcc: int = 20,
    fmin: float = 0.0,
    fmax: float | None = None,
    deltas: bool = True,
    window: Any = DEFAULT_WINDOW,
    center: bool = True,
) -> np.ndarray:
    """Linear-frequency cepstral coefficients with deltas and delta-deltas [1]_ [2]_.

    Pipeline: Hamming-windowed STFT (20 ms window, 10 ms hop), power spectrum,
    ``n_filter`` linearly spaced triangular filters on ``[fmin, fmax]``
    (:func:`~audio_detect.features.spectrum.linear_filterbank`), natural log with a floor
    of ``1e-10``, orthonormal DCT-II keeping ``n_lfcc`` coefficients **including c0**,
    then delta and delta-delta with a 3-frame regression window (the baseline's
    ``Deltas(x, 1)``, see :func:`~audio_detect.features.spectrum.delta`).

    Differences from the MATLAB baseline ``lfcc_bp.m``, none of which changes the
    information in the features: the natural log instead of ``log10`` (a constant
    factor 2.303), a periodic rather than symmetric Hamming window, and librosa's
    centred framing (``center=True``) instead of MATLAB ``buffer(..., 'nodelay')``.
    No pre-emphasis is applied (``lfcc_bp.m`` applies none either).

    Parameters
    ----------
    y : np.ndarray
        1-D floating-point waveform. Any non-empty input yields at least one frame.
    sr : int
        Sample rate in Hz.
    n_fft : int
        DFT size; 512 at 16 kHz as in the baseline (256 suffices at 8 kHz).
    win_length : int or None
        Window length in samples; ``None`` means 20 ms (``round(0.02 * sr)``).
    hop_length : int or None
        Hop in samples; ``None`` means 10 ms (``round(0.01 * sr)``).
    n_filter : int
        Number of linear triangular filters.
    n_lfcc : int
        Number of cepstral coefficients kept, c0 included (``<= n_filter``).
    fmin, fmax : float
        Band of the filter bank in Hz; ``fmax=None`` means ``sr / 2``.
    deltas : bool
        Append delta and delta-delta coefficients.
    window : str, tuple or np.ndarray
        Analysis window.
    center : bool
        Centre frames on ``t * hop_length`` by zero-padding ``n_fft // 2`` each side.

    Returns
    -------
    np.ndarray
        float32 array of shape ``(n_lfcc * (3 if deltas else 1), n_frames)``.

    Raises
    ------
    ParameterError
        For invalid parameters or non-finite input.
    AudioTooShortError
        If ``y`` is empty.
    """
    sr, n_fft, win_length, hop_length = resolve_framing(sr, n_fft, win_length, hop_length)
    fbank = linear_filterbank(sr=sr, n_fft=n_fft, n_filter=n_filter, fmin=fmin, fmax=fmax)
    return log_filterbank_features(
        y=y,
        fbank=fbank,
        n_fft=n_fft,
        hop_length=hop_length,
        win_length=win_length,
        window=window,
        center=center,
        n_coeff=n_lfcc,
        coeff_name="n_lfcc",
        deltas=deltas,
    )
