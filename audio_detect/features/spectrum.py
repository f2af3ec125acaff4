"""Shared spectral building blocks: validation, framing, power STFT, filter banks, DCT, deltas.

Every spectral feature of :mod:`audio_detect.features` (LFCC, MFCC, log-mel, log-linear)
goes through :func:`power_spectrogram`, so they frame the signal identically, and the
torch front end (:mod:`audio_detect.features.torch_frontend`) reproduces exactly the
same framing with :func:`frame_padding`.

Framing convention
------------------
Frames follow librosa's ``stft``: frame ``t`` spans ``n_fft`` samples starting at
``t * hop_length`` of the signal padded with ``n_fft // 2`` zeros on each side when
``center=True`` (librosa's default ``pad_mode="constant"``). The ``win_length`` window
sits centred inside that span, at offset ``(n_fft - win_length) // 2``, and the
windowed segment is zero-padded to ``n_fft`` before the DFT. Only the windowed
``win_length`` samples are read, which is what lets the torch front end implement the
STFT as a ``conv1d`` with a ``win_length`` kernel. A centred STFT has
``1 + (n_samples + 2 * (n_fft // 2) - n_fft) // hop_length`` frames, i.e. at least one
frame for any non-empty input. With ``center=False`` an input shorter than ``n_fft``
is zero-padded at the end to one frame.

Windows are periodic (``fftbins=True``), as in librosa and scipy. All arithmetic is
float64; the public feature functions cast their result to float32.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from numbers import Integral, Real
from typing import Any

import numpy as np
import scipy.signal

from ..exceptions import AudioTooShortError, ParameterError

__all__ = [
    "AMIN",
    "CHUNK_FRAMES",
    "DEFAULT_WINDOW",
    "append_deltas",
    "cepstrum",
    "check_positive_int",
    "dct_matrix",
    "delta",
    "frame_padding",
    "get_window",
    "iter_power",
    "linear_filterbank",
    "log_filterbank_energies",
    "log_filterbank_features",
    "log_floor",
    "mel_filterbank",
    "n_frames",
    "power_spectrogram",
    "resolve_band",
    "resolve_framing",
    "validate_audio",
]

logger = logging.getLogger(__name__)

#: Floor applied to energies before the logarithm (``log(max(x, AMIN))``), as librosa's
#: ``power_to_db(amin=1e-10)``. The ASVspoof MATLAB baselines add ``eps`` instead.
AMIN: float = 1e-10

#: Analysis window of every STFT-based feature by default, of ``compute_features`` and
#: of the torch front end: Hamming, as in the ASVspoof LFCC baseline.
DEFAULT_WINDOW: str = "hamming"


def validate_audio(y: Any) -> np.ndarray:
    """Check a mono waveform and return it as a contiguous float64 array.

    Parameters
    ----------
    y : np.ndarray
        1-D floating-point waveform.

    Returns
    -------
    np.ndarray
        The samples as float64.

    Raises
    ------
    ParameterError
        If ``y`` is not a 1-D real floating-point array or holds NaN or infinity.
    AudioTooShortError
        If ``y`` holds no samples.
    """
    if not isinstance(y, np.ndarray):
        raise ParameterError.invalid("y", "a numpy.ndarray", type(y).__name__)
    if y.ndim != 1:
        raise ParameterError.invalid("y", "a 1-D (mono) array", f"shape {y.shape}")
    if not np.issubdtype(y.dtype, np.floating):
        raise ParameterError.invalid("y", "a real floating-point array", f"dtype {y.dtype}")
    if y.size == 0:
        raise AudioTooShortError("The input holds 0 samples; at least 1 is needed.")
    if not np.all(np.isfinite(y)):
        raise ParameterError.invalid("y", "finite (no NaN or infinity)", "non-finite samples")
    return np.ascontiguousarray(y, dtype=np.float64)


def check_positive_int(name: str, value: Any) -> int:
    """Return ``value`` as ``int`` or raise :class:`ParameterError` unless it is an integer > 0."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value <= 0:
        raise ParameterError.invalid(name, "a positive integer", value)
    return int(value)


def resolve_framing(
    sr: int, n_fft: int, win_length: int | None, hop_length: int | None
) -> tuple[int, int, int, int]:
    """Validate and complete STFT sizes.

    Defaults follow the ASVspoof 2019 LFCC baseline: ``win_length = round(0.02 * sr)``
    (20 ms) and ``hop_length = round(0.01 * sr)`` (10 ms).

    Returns
    -------
    (sr, n_fft, win_length, hop_length) : tuple of int
    """
    sr = check_positive_int("sr", sr)
    n_fft = check_positive_int("n_fft", n_fft)
    win_length = round(0.02 * sr) if win_length is None else win_length
    hop_length = round(0.01 * sr) if hop_length is None else hop_length
    win_length = check_positive_int("win_length", win_length)
    hop_length = check_positive_int("hop_length", hop_length)
    if win_length > n_fft:
        raise ParameterError.invalid("win_length", f"<= n_fft={n_fft}", win_length)
    return sr, n_fft, win_length, hop_length


def resolve_band(sr: int, fmin: float, fmax: float | None) -> tuple[float, float]:
    """Validate a filter-bank band; ``fmax=None`` means ``sr / 2``.

    Raises
    ------
    ParameterError
        Unless ``0 <= fmin < fmax <= sr / 2``.
    """
    nyquist = sr / 2.0
    fmax = nyquist if fmax is None else fmax
    if isinstance(fmax, bool) or not isinstance(fmax, Real) or not 0 < fmax <= nyquist:
        raise ParameterError.invalid("fmax", f"in (0, sr/2={nyquist}] or None", fmax)
    if isinstance(fmin, bool) or not isinstance(fmin, Real) or not 0 <= fmin < fmax:
        raise ParameterError.invalid("fmin", f"in [0, fmax={fmax})", fmin)
    return float(fmin), float(fmax)


def get_window(window: Any, win_length: int) -> np.ndarray:
    """Return a periodic analysis window of ``win_length`` samples (float64).

    ``window`` is a :func:`scipy.signal.get_window` specification (a name such as
    ``"hamming"`` or a ``(name, param)`` tuple) or an array of length ``win_length``,
    as in :func:`librosa.filters.get_window`.
    """
    if isinstance(window, np.ndarray):
        if window.shape != (win_length,):
            raise ParameterError.invalid(
                "window", f"an array of shape ({win_length},)", f"shape {window.shape}"
            )
        return window.astype(np.float64)
    try:
        w = scipy.signal.get_window(window, win_length, fftbins=True)
    except (ValueError, TypeError) as exc:
        raise ParameterError.invalid("window", "a scipy window specification", window) from exc
    return np.asarray(w, dtype=np.float64)


def frame_padding(n_fft: int, win_length: int, center: bool = True) -> tuple[int, int, int]:
    """Padding that reproduces librosa framing when only the window's span is read.

    Returns
    -------
    left, right, offset : int
        With ``center=True``: pad the signal with ``left`` zeros before and ``right``
        zeros after, then slide a ``win_length`` kernel with stride ``hop_length``; this
        gives exactly the frames of a centred ``n_fft`` STFT (``left + right =
        2 * (n_fft // 2) - n_fft + win_length``). ``offset = (n_fft - win_length) // 2``
        is where the window starts inside an ``n_fft`` frame (used for ``center=False``).
    """
    offset = (n_fft - win_length) // 2
    rest = n_fft - win_length - offset
    if not center:
        return 0, 0, offset
    return n_fft // 2 - offset, n_fft // 2 - rest, offset


def n_frames(n_samples: int, *, n_fft: int, hop_length: int, center: bool = True) -> int:
    """Number of STFT frames for ``n_samples`` (>= 1 for any non-empty input)."""
    padded = n_samples + 2 * (n_fft // 2) if center else max(n_samples, n_fft)
    return 1 + (padded - n_fft) // hop_length


#: Frames transformed per block, bounding the float64/complex temporaries of a long
#: recording to a few tens of MB whatever its duration.
CHUNK_FRAMES: int = 4096


def iter_power(
    *,
    y: np.ndarray,
    n_fft: int,
    hop_length: int,
    win_length: int,
    window: Any = DEFAULT_WINDOW,
    center: bool = True,
    chunk_frames: int = CHUNK_FRAMES,
) -> Iterator[np.ndarray]:
    """Yield the power spectrogram in consecutive blocks of at most ``chunk_frames`` frames.

    Same arguments and framing as :func:`power_spectrogram`; each block is a float64
    array of shape ``(1 + n_fft // 2, n)``.
    """
    w = get_window(window, win_length)
    half = n_fft // 2
    padded = np.pad(y, (half, half) if center else (0, max(0, n_fft - y.shape[0])))
    count = n_frames(y.shape[0], n_fft=n_fft, hop_length=hop_length, center=center)
    offset = (n_fft - win_length) // 2
    segments = np.lib.stride_tricks.sliding_window_view(padded[offset:], win_length)
    for start in range(0, count, chunk_frames):
        stop = min(count, start + chunk_frames)
        frames = segments[start * hop_length : (stop - 1) * hop_length + 1 : hop_length] * w
        spec = np.fft.rfft(frames, n=n_fft, axis=-1)
        yield np.ascontiguousarray((spec.real**2 + spec.imag**2).T)


def power_spectrogram(
    *,
    y: np.ndarray,
    n_fft: int,
    hop_length: int,
    win_length: int,
    window: Any = DEFAULT_WINDOW,
    center: bool = True,
) -> np.ndarray:
    """Power spectrogram ``|STFT|**2`` with librosa framing (see the module docstring).

    Parameters
    ----------
    y : np.ndarray
        Validated 1-D float64 waveform (see :func:`validate_audio`).
    n_fft, hop_length, win_length : int
        DFT size, hop and window length in samples (``win_length <= n_fft``).
    window : str, tuple or np.ndarray
        Analysis window (periodic).
    center : bool
        Pad ``n_fft // 2`` zeros on both sides so frame ``t`` is centred at
        ``t * hop_length``.

    Returns
    -------
    np.ndarray
        float64 array of shape ``(1 + n_fft // 2, n_frames)``.
    """
    blocks = iter_power(
        y=y,
        n_fft=n_fft,
        hop_length=hop_length,
        win_length=win_length,
        window=window,
        center=center,
    )
    return np.concatenate(list(blocks), axis=1)


def log_filterbank_energies(
    *,
    y: np.ndarray,
    fbank: np.ndarray,
    n_fft: int,
    hop_length: int,
    win_length: int,
    window: Any = DEFAULT_WINDOW,
    center: bool = True,
) -> np.ndarray:
    """``log(max(fbank @ |STFT|**2, AMIN))`` computed block by block (float64).

    ``fbank`` has shape ``(n_filter, 1 + n_fft // 2)``; the result
    ``(n_filter, n_frames)``. Only one block of the full power spectrogram is held in
    memory at a time.
    """
    blocks = iter_power(
        y=y,
        n_fft=n_fft,
        hop_length=hop_length,
        win_length=win_length,
        window=window,
        center=center,
    )
    return np.concatenate([log_floor(fbank @ block) for block in blocks], axis=1)


def log_filterbank_features(
    *,
    y: np.ndarray,
    fbank: np.ndarray | None,
    n_fft: int,
    hop_length: int,
    win_length: int,
    window: Any = DEFAULT_WINDOW,
    center: bool = True,
    n_coeff: int | None = None,
    coeff_name: str = "n_coeff",
    deltas: bool = False,
) -> np.ndarray:
    """Log filter-bank energies, then an optional cepstrum and optional deltas, as float32.

    The shared pipeline of :func:`~audio_detect.features.lfcc`,
    :func:`~audio_detect.features.mfcc`, :func:`~audio_detect.features.logmel` and
    :func:`~audio_detect.features.linear_spectrogram`: ``y`` is checked by
    :func:`validate_audio`, the framing arguments are those of :func:`power_spectrogram`.

    Parameters
    ----------
    fbank : np.ndarray or None
        Filter bank of shape ``(n_filter, 1 + n_fft // 2)``
        (:func:`log_filterbank_energies`). ``None`` keeps every STFT bin (log power
        spectrogram), cast to float32 block by block (the full float64 spectrogram of a
        long call would be large), so its deltas are computed in float32.
    n_coeff : int or None
        Keep this many DCT-II coefficients, c0 included (:func:`cepstrum`); ``None``
        returns the log energies. ``coeff_name`` names it in error messages.
    deltas : bool
        Append delta and delta-delta rows (:func:`append_deltas`, 3-frame window).

    Returns
    -------
    np.ndarray
        float32 array of shape ``(n_rows * (3 if deltas else 1), n_frames)``; ``n_rows``
        is ``n_coeff``, else the number of filters, else ``1 + n_fft // 2``.
    """
    x = validate_audio(y)
    framing: dict[str, Any] = {
        "n_fft": n_fft,
        "hop_length": hop_length,
        "win_length": win_length,
        "window": window,
        "center": center,
    }
    if fbank is None:
        blocks = iter_power(y=x, **framing)
        out = np.concatenate([log_floor(b).astype(np.float32) for b in blocks], axis=1)
    else:
        out = log_filterbank_energies(y=x, fbank=fbank, **framing)
    if n_coeff is not None:
        out = cepstrum(out, n_coeff, name=coeff_name)
    if deltas:
        out = append_deltas(out, width=3)
    return out.astype(np.float32, copy=False)


def linear_filterbank(
    *, sr: int, n_fft: int, n_filter: int = 20, fmin: float = 0.0, fmax: float | None = None
) -> np.ndarray:
    """Linearly spaced triangular filter bank (LFCC; Sahidullah et al., Interspeech 2015).

    ``n_filter + 2`` edge frequencies are spaced evenly on ``[fmin, fmax]``; filter ``i``
    rises from edge ``i`` to a peak of 1 at edge ``i + 1`` and falls to 0 at edge
    ``i + 2`` (MATLAB ``trimf``, as in the ASVspoof 2019 baseline, and identical to
    :func:`torchaudio.functional.linear_fbanks`). No area normalisation.

    Returns
    -------
    np.ndarray
        float64 array of shape ``(n_filter, 1 + n_fft // 2)``.
    """
    n_filter = check_positive_int("n_filter", n_filter)
    fmin, fmax = resolve_band(sr, fmin, fmax)
    freqs = np.arange(1 + n_fft // 2) * (sr / n_fft)
    edges = np.linspace(fmin, fmax, n_filter + 2)
    up = (freqs[None, :] - edges[:-2, None]) / np.diff(edges)[:-1, None]
    down = (edges[2:, None] - freqs[None, :]) / np.diff(edges)[1:, None]
    return np.maximum(0.0, np.minimum(up, down))


def mel_filterbank(
    *, sr: int, n_fft: int, n_mels: int = 80, fmin: float = 0.0, fmax: float | None = None
) -> np.ndarray:
    """Slaney-style mel filter bank (librosa's default: ``htk=False``, ``norm="slaney"``).

    Returns
    -------
    np.ndarray
        float64 array of shape ``(n_mels, 1 + n_fft // 2)``.
    """
    import librosa  # deferred: loading librosa.filters takes ~1-2 s (numba)

    n_mels = check_positive_int("n_mels", n_mels)
    fmin, fmax = resolve_band(sr, fmin, fmax)
    return librosa.filters.mel(
        sr=sr,
        n_fft=n_fft,
        n_mels=n_mels,
        fmin=fmin,
        fmax=fmax,
        htk=False,
        norm="slaney",
        dtype=np.float64,
    )


def log_floor(x: np.ndarray, amin: float = AMIN) -> np.ndarray:
    """Natural log with a floor: ``log(max(x, amin))``."""
    return np.log(np.maximum(x, amin))


def dct_matrix(n_coeff: int, n_input: int, *, name: str = "n_coeff") -> np.ndarray:
    """First ``n_coeff`` rows of the orthonormal DCT-II matrix of size ``n_input``.

    ``D[k, n] = s_k cos(pi k (2n + 1) / (2 N))`` with ``s_0 = sqrt(1/N)`` and
    ``s_k = sqrt(2/N)``: MATLAB's ``dct`` (used by the ASVspoof baselines),
    ``scipy.fft.dct(type=2, norm="ortho")`` and the transpose of
    :func:`torchaudio.functional.create_dct` with ``norm="ortho"``.

    Raises
    ------
    ParameterError
        Unless ``1 <= n_coeff <= n_input``; the message calls the parameter ``name``.
    """
    n_coeff = check_positive_int(name, n_coeff)
    if n_coeff > n_input:
        raise ParameterError.invalid(name, f"<= the number of filters ({n_input})", n_coeff)
    k = np.arange(n_coeff)[:, None]
    n = np.arange(n_input)[None, :]
    mat = np.sqrt(2.0 / n_input) * np.cos(np.pi * k * (2 * n + 1) / (2 * n_input))
    mat[0] /= np.sqrt(2.0)
    return mat


def cepstrum(log_energies: np.ndarray, n_coeff: int, *, name: str = "n_coeff") -> np.ndarray:
    """Orthonormal DCT-II along axis 0, keeping the first ``n_coeff`` rows (c0 included)."""
    return dct_matrix(n_coeff, log_energies.shape[0], name=name) @ log_energies


def delta(data: np.ndarray, *, width: int = 3, order: int = 1) -> np.ndarray:
    """Regression deltas along the last axis with edge replication (HTK formula).

    ``d[t] = sum_{n=1..N} n (x[t+n] - x[t-n]) / (2 sum_{n=1..N} n^2)`` with
    ``N = width // 2``, frames beyond the edges replicated. ``width=3`` (N=1) gives
    ``(x[t+1] - x[t-1]) / 2``: exactly ``Deltas(x, 1)`` of the ASVspoof 2019 MATLAB
    baseline (whose argument is the half-length ``hlen=1``, i.e. a 3-frame window) and
    :func:`torchaudio.functional.compute_deltas` with ``win_length=3``. Unlike
    ``librosa.feature.delta`` (Savitzky-Golay, ``mode="interp"``) the edges are
    replicated, and ``order=2`` applies the first-order delta twice, as the baseline
    does for its acceleration coefficients.

    Parameters
    ----------
    data : np.ndarray
        Array of shape ``(..., n_frames)``.
    width : int
        Odd regression window length, >= 3.
    order : int
        1 or 2.
    """
    if isinstance(width, bool) or not isinstance(width, Integral) or width < 3 or width % 2 == 0:
        raise ParameterError.invalid("width", "an odd integer >= 3", width)
    if order not in (1, 2):
        raise ParameterError.invalid("order", "1 or 2", order)
    half = width // 2
    denom = 2.0 * sum(n * n for n in range(1, half + 1))
    out = data
    for _ in range(order):
        padded = np.concatenate(
            [np.repeat(out[..., :1], half, axis=-1), out, np.repeat(out[..., -1:], half, axis=-1)],
            axis=-1,
        )
        length = out.shape[-1]
        acc = np.zeros_like(out)
        for n in range(1, half + 1):
            ahead = padded[..., half + n : half + n + length]
            behind = padded[..., half - n : half - n + length]
            acc = acc + n * (ahead - behind)
        out = acc / denom
    return out


def append_deltas(data: np.ndarray, *, width: int = 3) -> np.ndarray:
    """Stack ``[data; delta; delta-delta]`` along axis 0 (3x the rows)."""
    d1 = delta(data, width=width, order=1)
    d2 = delta(d1, width=width, order=1)
    return np.concatenate([data, d1, d2], axis=0)
