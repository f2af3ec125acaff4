"""Log-linear power spectrogram (the input of spectrogram-based CNN countermeasures).

References
----------
.. [1] G. Lavrentyeva et al., "STC antispoofing systems for the ASVspoof2019
   challenge", Proc. Interspeech 2019 (log power spectrogram front end for LCNN).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from .spectrum import DEFAULT_WINDOW, log_filterbank_features, resolve_framing

__all__ = ["linear_spectrogram"]

logger = logging.getLogger(__name__)


def linear_spectrogram(
    *,
    y: np.ndarray,
    sr: int,
    n_fft: int = 512,
    win_length: int | None = None,
    hop_length: int | None = None,
    deltas: bool = False,
    window: Any = DEFAULT_WINDOW,
    center: bool = True,
) -> np.ndarray:
    """Natural-log power spectrogram ``log(max(|STFT|**2, 1e-10))`` [1]_.

    Parameters
    ----------
    y : np.ndarray
        1-D floating-point waveform. Any non-empty input yields at least one frame.
    sr : int
        Sample rate in Hz (only used for the default window and hop).
    n_fft : int
        DFT size; the output has ``1 + n_fft // 2`` frequency rows.
    win_length, hop_length : int or None
        Window and hop in samples; ``None`` means 20 ms and 10 ms.
    deltas : bool
        Append delta and delta-delta (3-frame regression) rows.
    window : str, tuple or np.ndarray
        Analysis window.
    center : bool
        Centre frames on ``t * hop_length``.

    Returns
    -------
    np.ndarray
        float32 array of shape ``((1 + n_fft // 2) * (3 if deltas else 1), n_frames)``.
    """
    sr, n_fft, win_length, hop_length = resolve_framing(sr, n_fft, win_length, hop_length)
    return log_filterbank_features(
        y=y,
        fbank=None,
        n_fft=n_fft,
        hop_length=hop_length,
        win_length=win_length,
        window=window,
        center=center,
        deltas=deltas,
    )
