"""Constant-Q cepstral coefficients (CQCC).

References
----------
.. [1] M. Todisco, H. Delgado, N. Evans, "A new feature for automatic speaker
   verification anti-spoofing: Constant Q cepstral coefficients", Proc. Odyssey 2016.
.. [2] M. Todisco, H. Delgado, N. Evans, "Constant Q cepstral coefficients: A spoofing
   countermeasure for automatic speaker verification", Computer Speech & Language 45,
   2017, pp. 516-535.
"""

from __future__ import annotations

import functools
import logging
import warnings
from numbers import Real

import librosa
import numpy as np

from ..exceptions import ParameterError
from .spectrum import append_deltas, check_positive_int, dct_matrix, log_floor, validate_audio

__all__ = ["CQCC_FMIN", "cqcc", "cqt_bins", "uniform_resampling_matrix"]

logger = logging.getLogger(__name__)

#: Default lowest CQT frequency: ``8000 / 2**9`` Hz, the value of [1]_ at 16 kHz
#: (9 octaves up to Nyquist at 16 kHz, 8 octaves at 8 kHz).
CQCC_FMIN: float = 15.625


def cqt_bins(*, sr: int, fmin: float, fmax: float, bins_per_octave: int) -> int:
    """Largest number of CQT bins from ``fmin`` whose filters stay below ``fmax``.

    librosa rejects a constant-Q basis whose highest filter's pass band (centre
    frequency plus half its bandwidth, Hann window) crosses Nyquist; this applies the
    same test against ``fmax``.
    """
    r = 2.0 ** (1.0 / bins_per_octave)
    alpha = (r**2 - 1.0) / (r**2 + 1.0)
    n_bins = int(np.floor(bins_per_octave * np.log2(fmax / fmin))) + 1
    while n_bins > 1:
        freqs = librosa.cqt_frequencies(n_bins=n_bins, fmin=fmin, bins_per_octave=bins_per_octave)
        _, cutoff = librosa.filters.wavelet_lengths(freqs=freqs, sr=sr, window="hann", alpha=alpha)
        if cutoff <= fmax:
            return n_bins
        n_bins -= 1
    raise ParameterError.invalid("fmin", f"at least one CQT bin below fmax={fmax}", fmin)


def uniform_resampling_matrix(freqs: np.ndarray, d: int) -> np.ndarray:
    """Matrix that linearly interpolates a spectrum from ``freqs`` onto a uniform grid.

    The uniform grid starts at ``freqs[0]`` with spacing ``freqs[0] / d``, so the first
    octave holds ``d`` uniform samples (the resampling period of [1]_, section 3), and
    ends at or below ``freqs[-1]``.

    Returns
    -------
    np.ndarray
        float64 array of shape ``(n_uniform, len(freqs))``; each row holds two
        non-negative weights summing to 1.
    """
    step = freqs[0] / d
    grid = freqs[0] + step * np.arange(int(np.floor((freqs[-1] - freqs[0]) / step)) + 1)
    idx = np.clip(np.searchsorted(freqs, grid, side="right") - 1, 0, len(freqs) - 2)
    weight = np.clip((grid - freqs[idx]) / (freqs[idx + 1] - freqs[idx]), 0.0, 1.0)
    mat = np.zeros((grid.shape[0], freqs.shape[0]))
    rows = np.arange(grid.shape[0])
    mat[rows, idx] = 1.0 - weight
    mat[rows, idx + 1] += weight
    return mat


@functools.lru_cache(maxsize=16)
def _cqcc_projection(
    sr: int, fmin: float, fmax: float, bins_per_octave: int, d: int, n_cqcc: int
) -> tuple[int, np.ndarray]:
    """CQT bin count and the ``(n_cqcc, n_bins)`` matrix DCT @ uniform-resampling."""
    n_bins = cqt_bins(sr=sr, fmin=fmin, fmax=fmax, bins_per_octave=bins_per_octave)
    freqs = librosa.cqt_frequencies(n_bins=n_bins, fmin=fmin, bins_per_octave=bins_per_octave)
    resample = uniform_resampling_matrix(freqs, d)
    logger.debug("cqcc: %d CQT bins -> %d uniform samples", n_bins, resample.shape[0])
    proj = dct_matrix(n_cqcc, resample.shape[0], name="n_cqcc") @ resample
    proj.setflags(write=False)
    return n_bins, proj


def cqcc(
    *,
    y: np.ndarray,
    sr: int,
    hop_length: int | None = None,
    fmin: float | None = None,
    fmax: float | None = None,
    bins_per_octave: int = 48,
    n_cqcc: int = 20,
    d: int = 16,
    deltas: bool = True,
) -> np.ndarray:
    """Constant-Q cepstral coefficients [1]_ [2]_.

    Pipeline: constant-Q transform (:func:`librosa.cqt`, Hann-windowed filters, centred
    frames with ``hop_length``) with ``bins_per_octave`` geometrically spaced bins from
    ``fmin`` up to the last bin whose filter fits below ``fmax``; power ``|X|**2``;
    natural log floored at ``1e-10``; linear interpolation of the log-power spectrum from
    the geometric frequency grid onto a uniform grid of spacing ``fmin / d`` (the
    "uniform resampling" that linearises the constant-Q scale); orthonormal DCT-II over
    the uniform grid keeping ``n_cqcc`` coefficients including c0; optional deltas and
    delta-deltas with a 3-frame regression window.

    Deviations from [1]_ (chosen for speed): 48 bins per octave instead of 96 (the
    CQT is ~2x faster and the cepstrum keeps only the spectral envelope), and linear
    rather than spline interpolation. ``fmin = 15.625`` Hz and ``d = 16`` are the
    paper's values (the ASVspoof 2019 baseline calls ``cqcc(x, fs, 96, fs/2, fs/2^10,
    16, ...)``). At 16 kHz this gives 432 CQT bins over 9 octaves and 8 059 uniform
    samples per frame (384 bins and 4 022 samples over 8 octaves at 8 kHz).

    Parameters
    ----------
    y : np.ndarray
        1-D floating-point waveform. Any non-empty input yields ``1 + len(y) //
        hop_length`` frames (short inputs are zero-padded internally).
    sr : int
        Sample rate in Hz.
    hop_length : int or None
        Hop in samples; ``None`` means 10 ms.
    fmin : float or None
        Lowest CQT centre frequency in Hz; ``None`` means 15.625 Hz.
    fmax : float or None
        Upper limit of the highest filter's pass band; ``None`` means ``sr / 2``.
    bins_per_octave : int
        CQT resolution (96 in [1]_).
    n_cqcc : int
        Number of cepstral coefficients kept, c0 included.
    d : int
        Uniform samples in the first octave (uniform spacing ``fmin / d``).
    deltas : bool
        Append delta and delta-delta coefficients.

    Returns
    -------
    np.ndarray
        float32 array of shape ``(n_cqcc * (3 if deltas else 1), n_frames)``.
    """
    sr = check_positive_int("sr", sr)
    hop_length = round(0.01 * sr) if hop_length is None else hop_length
    hop_length = check_positive_int("hop_length", hop_length)
    bins_per_octave = check_positive_int("bins_per_octave", bins_per_octave)
    d = check_positive_int("d", d)
    nyquist = sr / 2.0
    fmax = nyquist if fmax is None else fmax
    if isinstance(fmax, bool) or not isinstance(fmax, Real) or not 0 < fmax <= nyquist:
        raise ParameterError.invalid("fmax", f"in (0, sr/2={nyquist}] or None", fmax)
    fmin = CQCC_FMIN if fmin is None else fmin
    if isinstance(fmin, bool) or not isinstance(fmin, Real) or not 0 < fmin < fmax:
        raise ParameterError.invalid("fmin", f"in (0, fmax={fmax}) or None", fmin)
    n_cqcc = check_positive_int("n_cqcc", n_cqcc)

    n_bins, proj = _cqcc_projection(sr, float(fmin), float(fmax), bins_per_octave, d, n_cqcc)
    x = validate_audio(y)
    count = 1 + x.shape[0] // hop_length
    # librosa's early downsampling needs a few samples per octave; pad tiny inputs.
    min_len = 2 ** int(np.ceil(n_bins / bins_per_octave))
    if x.shape[0] < min_len:
        x = np.pad(x, (0, min_len - x.shape[0]))
    with warnings.catch_warnings():
        # Low octaves run at a decimated rate where librosa warns that its FFT exceeds
        # the (short) signal; the zero-padded result is what we want.
        warnings.filterwarnings("ignore", message=r"n_fft=\d+ is too large", category=UserWarning)
        spec = librosa.cqt(
            x,
            sr=sr,
            hop_length=hop_length,
            fmin=float(fmin),
            n_bins=n_bins,
            bins_per_octave=bins_per_octave,
            res_type="soxr_hq",
        )[:, :count]
    # Interpolation and DCT are both linear, so they are applied as one matrix.
    coeffs = proj @ log_floor(np.abs(spec) ** 2)
    if deltas:
        coeffs = append_deltas(coeffs, width=3)
    return coeffs.astype(np.float32)
