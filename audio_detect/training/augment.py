"""Seeded on-the-fly waveform augmentation for countermeasure training.

Every transform here is applied to bona fide and spoofed speech alike, with the same
probabilities, so no augmentation artefact can become a class cue. All transforms
take and return mono float32 numpy arrays at the model rate and keep the length.

* RawBoost (Tak, Kamble, Todisco & Evans, "RawBoost: A raw data boosting and
  augmentation method applied to automatic speaker verification anti-spoofing",
  ICASSP 2022): (1) linear and non-linear convolutive noise from random FIR
  band-stop/pass filters, (2) impulsive signal-dependent additive noise, (3)
  coloured stationary additive noise. Parameter ranges follow the reference code
  (``RawBoost.py`` of the SSL_Anti-spoofing repository), shortened where noted.
* the telephone / VoIP channel simulation of :mod:`audio_detect.audio.channel`
  (G.711, GSM, Opus, MP3 round trips, band limiting, packet loss, noise, reverb);
* a random equaliser (RBJ biquad shelves and peaks: the colouration a microphone,
  a room or studio mastering gives a recording, which says nothing about its origin);
* random low-pass band limiting, random gain, resampling speed perturbation
  (changes duration and pitch together; the label is preserved because the
  perturbation is applied to both classes).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from scipy import signal

from .config import AugmentConfig

__all__ = [
    "Augmenter",
    "bandlimit",
    "random_eq",
    "random_gain",
    "rawboost_coloured_noise",
    "rawboost_impulsive",
    "rawboost_linear_nonlinear",
    "speed_perturb",
]

logger = logging.getLogger(__name__)


# -- RawBoost ---------------------------------------------------------------------------
def _random_fir_bank(
    rng: np.random.Generator,
    sr: int,
    *,
    n_bands: int,
    min_f: float,
    max_f: float,
    min_bw: float,
    max_bw: float,
    min_coeff: int,
    max_coeff: int,
    min_g: float,
    max_g: float,
) -> np.ndarray:
    """Sum of ``n_bands`` random band-stop FIR filters (RawBoost ``genNotchCoeffs``)."""
    b = np.ones(1)
    nyq = sr / 2
    for _ in range(n_bands):
        fc = rng.uniform(min_f, max_f)
        bw = rng.uniform(min_bw, max_bw)
        c = int(rng.integers(min_coeff, max_coeff + 1))
        c += 1 - c % 2  # odd number of taps
        f1 = max(fc - bw / 2, 1e-3 * nyq)
        f2 = min(fc + bw / 2, 0.999 * nyq)
        if f2 <= f1:
            continue
        h = signal.firwin(c, [f1, f2], window="hamming", fs=sr)  # band-pass
        b = np.convolve(b, h) if b.size > 1 else h
    g = 10 ** (rng.uniform(min_g, max_g) / 20)
    return b * g


def _normalise_peak(x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(x))) or 1.0
    ref_peak = float(np.max(np.abs(ref))) or 1.0
    return (x * (ref_peak / peak)).astype(np.float32)


def _rawboost_fir(rng: np.random.Generator, sr: int) -> np.ndarray:
    """The band-filter cascade of RawBoost (5 bands, 20 Hz-8 kHz scaled to ``sr``)."""
    scale = sr / 16000
    return _random_fir_bank(
        rng,
        sr,
        n_bands=5,
        min_f=20 * scale,
        max_f=min(8000 * scale, sr / 2 - 1),
        min_bw=100 * scale,
        max_bw=1000 * scale,
        min_coeff=10,
        max_coeff=100,
        min_g=0.0,
        max_g=0.0,
    )


def rawboost_linear_nonlinear(
    y: np.ndarray, *, sr: int, rng: np.random.Generator, n_orders: int = 3
) -> np.ndarray:
    """RawBoost algorithm 1: linear and non-linear convolutive noise.

    The signal, and its powers up to ``n_orders`` (the non-linear terms of a
    Hammerstein model), each pass through a random cascade of band filters; the
    sum is rescaled to the input peak.
    """
    out = np.zeros_like(y, dtype=np.float64)
    for order in range(1, n_orders + 1):
        b = _rawboost_fir(rng, sr)
        part = np.power(y.astype(np.float64), order)
        out += np.convolve(part, b, mode="same") / (order**1.5)
    return _normalise_peak(out, y)


def rawboost_impulsive(
    y: np.ndarray, *, rng: np.random.Generator, p_max: float = 0.1, g_sd: float = 2.0
) -> np.ndarray:
    """RawBoost algorithm 2: impulsive signal-dependent additive noise.

    A random ``P`` % (up to ``p_max``) of samples get ``y * (2 * g_sd * u - g_sd)`` added,
    ``u`` uniform in [0, 1).
    """
    x = y.astype(np.float32, copy=True)
    n = len(x)
    k = int(n * rng.uniform(0, p_max))
    if k == 0:
        return x
    idx = rng.choice(n, size=k, replace=False)
    r = g_sd * rng.uniform(-1, 1, size=k)
    x[idx] += r * x[idx]
    return np.clip(x, -1.0, 1.0)


def rawboost_coloured_noise(
    y: np.ndarray, *, sr: int, rng: np.random.Generator, snr_db: tuple[float, float] = (10, 40)
) -> np.ndarray:
    """RawBoost algorithm 3: stationary additive noise coloured by a random FIR filter."""
    noise = rng.standard_normal(len(y))
    b = _rawboost_fir(rng, sr)
    noise = np.convolve(noise, b, mode="same")
    p_sig = float(np.mean(y.astype(np.float64) ** 2)) + 1e-12
    p_noise = float(np.mean(noise**2)) + 1e-12
    snr = rng.uniform(*snr_db)
    noise *= np.sqrt(p_sig / (p_noise * 10 ** (snr / 10)))
    return np.clip(y + noise, -1.0, 1.0).astype(np.float32)


# -- simple transforms --------------------------------------------------------------------
def bandlimit(y: np.ndarray, *, sr: int, cutoff_hz: float, low_hz: float = 0.0) -> np.ndarray:
    """Zero-phase 8th-order Butterworth low-pass (and optional high-pass) filter."""
    nyq = sr / 2
    if cutoff_hz >= nyq * 0.99 and low_hz <= 0:
        return y.astype(np.float32)
    if low_hz > 0:
        band = [low_hz, min(cutoff_hz, nyq * 0.99)]
        sos = signal.butter(8, band, "bandpass", fs=sr, output="sos")
    else:
        sos = signal.butter(8, cutoff_hz, "lowpass", fs=sr, output="sos")
    return signal.sosfiltfilt(sos, y).astype(np.float32)


def _biquad(kind: str, *, f0: float, gain_db: float, q: float, sr: int) -> np.ndarray:
    """One RBJ "Audio EQ Cookbook" section (``peak``, ``lowshelf``, ``highshelf``) as sos."""
    a = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * f0 / sr
    cos_w, alpha = np.cos(w0), np.sin(w0) / (2 * q)
    if kind == "peak":
        b = [1 + alpha * a, -2 * cos_w, 1 - alpha * a]
        den = [1 + alpha / a, -2 * cos_w, 1 - alpha / a]
    else:
        s = 1.0 if kind == "lowshelf" else -1.0
        ra = 2 * np.sqrt(a) * alpha
        b = [
            a * ((a + 1) - s * (a - 1) * cos_w + ra),
            s * 2 * a * ((a - 1) - s * (a + 1) * cos_w),
            a * ((a + 1) - s * (a - 1) * cos_w - ra),
        ]
        den = [
            (a + 1) + s * (a - 1) * cos_w + ra,
            -s * 2 * ((a - 1) + s * (a + 1) * cos_w),
            (a + 1) + s * (a - 1) * cos_w - ra,
        ]
    return np.concatenate([np.asarray(b) / den[0], np.asarray(den) / den[0]])[None, :]


def random_eq(
    y: np.ndarray, *, sr: int, rng: np.random.Generator, max_db: float = 12.0
) -> np.ndarray:
    """Random colouration: a low shelf (80-400 Hz), a high shelf (0.25-0.45 ``sr``) and two
    peaking bands (200 Hz to 0.45 ``sr``, Q 0.5-3), each gain uniform in +-``max_db``.

    Linear, stationary and minimum phase, like a microphone or an equaliser: it changes
    the long-term spectrum, not what a generator leaves in the fine structure. The
    output is scaled back to the input's peak if it would clip.
    """
    nyq = sr / 2
    sections = [
        _biquad("lowshelf", f0=rng.uniform(80, 400), gain_db=rng.uniform(-max_db, max_db),
                q=0.707, sr=sr),
        _biquad("highshelf", f0=rng.uniform(0.5, 0.9) * nyq,
                gain_db=rng.uniform(-max_db, max_db), q=0.707, sr=sr),
    ]  # fmt: skip
    for _ in range(2):
        f0 = float(np.exp(rng.uniform(np.log(200.0), np.log(0.9 * nyq))))
        sections.append(
            _biquad("peak", f0=f0, gain_db=rng.uniform(-max_db, max_db),
                    q=rng.uniform(0.5, 3.0), sr=sr)
        )  # fmt: skip
    x = signal.sosfilt(np.concatenate(sections), y.astype(np.float64))
    if np.max(np.abs(x)) > 1.0:
        x = _normalise_peak(x, y)
    return x.astype(np.float32)


def random_gain(y: np.ndarray, *, rng: np.random.Generator, gain_db: Sequence[float]) -> np.ndarray:
    """Scale by a gain drawn uniformly in dB; clip to [-1, 1]."""
    g = 10 ** (rng.uniform(gain_db[0], gain_db[1]) / 20)
    return np.clip(y * g, -1.0, 1.0).astype(np.float32)


def speed_perturb(y: np.ndarray, *, factor: float) -> np.ndarray:
    """Resampling speed perturbation (Ko et al., Interspeech 2015): duration and pitch
    scale together by ``factor``; the output has ``len(y) / factor`` samples."""
    if abs(factor - 1.0) < 1e-3:
        return y.astype(np.float32)
    from fractions import Fraction

    frac = Fraction(factor).limit_denominator(100)
    out = signal.resample_poly(y, frac.denominator, frac.numerator)
    return out.astype(np.float32)


# -- the pipeline -------------------------------------------------------------------------
class Augmenter:
    """Random augmentation chain driven by an :class:`AugmentConfig`.

    Order: speed perturbation, RawBoost, equaliser, channel condition or band limit, gain.
    Speed perturbation runs on the longer source segment, so the caller crops after
    :meth:`speed`; everything else keeps the length (:meth:`__call__`).

    Parameters
    ----------
    config : AugmentConfig
        Probabilities and ranges.
    sr : int
        Model sample rate.
    """

    def __init__(self, config: AugmentConfig, *, sr: int) -> None:
        self.config = config
        self.sr = sr
        self.conditions = self._usable_conditions(config.channel_conditions)

    @staticmethod
    def _usable_conditions(names: Sequence[str]) -> list[str]:
        if not names:
            return []
        try:
            from ..audio.channel import resolve_condition
        except ImportError:  # pragma: no cover - channel module is part of the package
            logger.warning("audio.channel unavailable; channel augmentation disabled")
            return []
        usable = []
        for name in names:
            spec = resolve_condition(name)
            if spec.available():
                usable.append(name)
            else:
                logger.warning("channel condition %r unavailable: %s", name, spec.missing())
        return usable

    def speed(self, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Apply speed perturbation with probability ``p_speed``."""
        c = self.config
        if c.p_speed > 0 and rng.random() < c.p_speed:
            return speed_perturb(y, factor=float(rng.uniform(*c.speed_range)))
        return y

    def __call__(self, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Return an augmented copy of ``y`` (same length)."""
        c = self.config
        x = np.asarray(y, dtype=np.float32)
        if c.p_rawboost > 0 and c.rawboost_algos and rng.random() < c.p_rawboost:
            algo = int(rng.choice(c.rawboost_algos))
            if algo == 1:
                x = rawboost_linear_nonlinear(x, sr=self.sr, rng=rng)
            elif algo == 2:
                x = rawboost_impulsive(x, rng=rng)
            else:
                x = rawboost_coloured_noise(x, sr=self.sr, rng=rng)
        if c.p_eq > 0 and rng.random() < c.p_eq:
            x = random_eq(x, sr=self.sr, rng=rng, max_db=c.eq_db)
        if self.conditions and rng.random() < c.p_channel:
            from ..audio.channel import apply_channel

            name = self.conditions[int(rng.integers(len(self.conditions)))]
            try:
                x = apply_channel(x, sr=self.sr, condition=name, seed=int(rng.integers(2**31)))
            except Exception as exc:  # a codec failure must not stop training
                logger.warning("channel %r failed (%s); sample left unchanged", name, exc)
        elif c.p_bandlimit > 0 and rng.random() < c.p_bandlimit:
            cutoff = float(rng.uniform(*c.bandlimit_hz))
            low = float(rng.uniform(50, 300)) if rng.random() < 0.5 else 0.0
            x = bandlimit(x, sr=self.sr, cutoff_hz=cutoff, low_hz=low)
        if c.p_gain > 0 and rng.random() < c.p_gain:
            x = random_gain(x, rng=rng, gain_db=c.gain_db)
        if not np.all(np.isfinite(x)):
            logger.warning("augmentation produced non-finite samples; using the input")
            return np.asarray(y, dtype=np.float32)
        return x.astype(np.float32, copy=False)
