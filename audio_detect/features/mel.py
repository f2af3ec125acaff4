"""Log-mel power spectrogram.

References
----------
.. [1] S. S. Stevens, J. Volkmann, E. B. Newman, "A scale for the measurement of the
   psychological magnitude pitch", JASA 8(3), 1937 (the mel scale).
.. [2] M. Slaney, "Auditory Toolbox", Interval Research Technical Report 1998-010
   (the mel filter bank shape and normalisation used by librosa).
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

__all__ = ["logmel"]

logger = logging.getLogger(__name__)


def logmel(
    *,
    y: np.ndarray,
    sr: int,
    n_fft: int = 512,
    win_length: int | None = None,
    hop_length: int | None = None,
    n_mels: int = 80,
    fmin: float = 0.0,
    fmax: float | None = None,
    deltas: bool = False,
    window: Any = DEFAULT_WINDOW,
    center: bool = True,
) -> np.ndarray:
    """Natural-log mel-filtered power spectrogram [1]_ [2]_.

    ``log(max(M @ |STFT|**2, 1e-10))`` with ``M`` librosa's Slaney mel filter bank
    (``htk=False``, ``norm="slaney"``). The log is natural (not dB, no ``top_db``
    clipping), so scaling the input by ``a`` adds ``2 ln a`` to every unfloored value.

    Parameters
    ----------
    y : np.ndarray
        1-D floating-point waveform. Any non-empty input yields at least one frame.
    sr : int
        Sample rate in Hz.
    n_fft : int
        DFT size.
    win_length, hop_length : int or None
        Window and hop in samples; ``None`` means 20 ms and 10 ms.
    n_mels : int
        Number of mel bands.
    fmin, fmax : float
        Band of the filter bank in Hz; ``fmax=None`` means ``sr / 2``.
    deltas : bool
        Append delta and delta-delta (3-frame regression) features.
    window : str, tuple or np.ndarray
        Analysis window.
    center : bool
        Centre frames on ``t * hop_length``.

    Returns
    -------
    np.ndarray
        float32 array of shape ``(n_mels * (3 if deltas else 1), n_frames)``.
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
        deltas=deltas,
    )
