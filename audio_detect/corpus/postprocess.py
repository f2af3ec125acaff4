"""Nuisance control: one processing path for both classes.

Every rendered recording, real or synthetic, goes through the same seeded chain, with
each random setting drawn from a distribution that does not depend on the label:

1. DC removal and silence trimming (energy below peak - 40 dB at the ends);
2. resampling to 16 kHz and a random high-pass (50-150 Hz);
3. band: *narrowband* (8 kHz round trip, low-pass 3.1-3.7 kHz) or *wideband* (low-pass
   5.5-7.4 kHz, hiding each source's resampler roll-off). Items natively at 8 kHz are always
   narrowband; the builder draws the others so that both classes get the same share;
4. cropping into segments of 2.5-10 s (long items), dropping fragments under 1.2 s;
5. random leading/trailing pads (0.05-0.6 s) and a channel condition drawn from one mix
   per band (:mod:`audio_detect.audio.channel`);
6. loudness normalisation to a random active level (-32..-16 dBFS), a random noise floor
   45-70 dB below it (no digital silence in either class), peak guard, 16-bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

from ..audio.channel import apply_channel
from ._io import resample

__all__ = ["NB_CHANNELS", "OUT_SR", "WB_CHANNELS", "ProcessSpec", "process", "trim_silence"]

OUT_SR = 16000
#: (channel column value, channel condition or "" for none, weight)
NB_CHANNELS: tuple[tuple[str, str, float], ...] = (
    ("tel_pcm", "", 0.22),
    ("tel_mulaw", "g711_mulaw", 0.16),
    ("tel_alaw", "g711_alaw", 0.12),
    ("tel_gsm", "gsm", 0.12),
    ("tel_amr", "amr_nb", 0.12),
    ("tel_opus_nb", "opus_nb", 0.10),
    ("tel_mulaw_loss", "g711_mulaw+packet_loss", 0.08),
    ("tel_noisy", "noise_snr20+g711_mulaw", 0.08),
)
WB_CHANNELS: tuple[tuple[str, str, float], ...] = (
    ("clean", "", 0.40),
    ("opus_wb", "opus_wb", 0.12),
    ("mp3", "mp3", 0.12),
    ("aac", "aac", 0.10),
    ("noise_snr20", "noise_snr20", 0.10),
    ("noise_snr10", "noise_snr10", 0.06),
    ("reverb", "reverb", 0.10),
)
MIN_SEGMENT = 1.2
SEGMENT_RANGE = (2.5, 10.0)
MAX_UNCUT = 12.0


@dataclass(frozen=True)
class ProcessSpec:
    """Settings of one item's processing (decided at plan time)."""

    band: str  # "nb" or "wb"
    seed: int


def trim_silence(y: np.ndarray, sr: int, *, top_db: float = 40.0) -> np.ndarray:
    """Cut leading and trailing 10 ms frames quieter than the loudest frame - ``top_db``."""
    hop = max(1, sr // 100)
    n = len(y) // hop
    if n < 3:
        return y
    e = (y[: n * hop].astype(np.float64) ** 2).reshape(n, hop).mean(axis=1)
    ref = e.max()
    if ref <= 0:
        return y[:0]
    active = np.flatnonzero(10 * np.log10(e / ref + 1e-20) > -top_db)
    return y[active[0] * hop : (active[-1] + 1) * hop]


def _active_rms(y: np.ndarray, sr: int) -> float:
    hop = sr // 50
    n = len(y) // hop
    if n == 0:
        return float(np.sqrt(np.mean(y**2) + 1e-20))
    e = (y[: n * hop] ** 2).reshape(n, hop).mean(axis=1)
    top = np.sort(e)[n // 2 :]
    return float(np.sqrt(top.mean() + 1e-20))


def _pick(rng: np.random.Generator, table: tuple[tuple[str, str, float], ...]) -> tuple[str, str]:
    w = np.array([t[2] for t in table])
    i = int(rng.choice(len(table), p=w / w.sum()))
    return table[i][0], table[i][1]


def _segments(n: int, sr: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    if n <= MAX_UNCUT * sr:
        return [(0, n)]
    out = []
    start = 0
    while start < n:
        length = int(rng.uniform(*SEGMENT_RANGE) * sr)
        end = min(n, start + length)
        if end - start >= MIN_SEGMENT * sr:
            out.append((start, end))
        start = end
    return out


def _band(y: np.ndarray, band: str, rng: np.random.Generator) -> np.ndarray:
    hp = signal.butter(2, float(rng.uniform(50, 150)), btype="highpass", fs=OUT_SR, output="sos")
    y = signal.sosfilt(hp, y)
    if band == "nb":
        x = resample(y.astype(np.float32), OUT_SR, 8000)
        lp = signal.butter(8, float(rng.uniform(3100, 3700)), fs=8000, output="sos")
        x = signal.sosfilt(lp, x)
        y = resample(x.astype(np.float32), 8000, OUT_SR)[: len(y)]
    else:
        lp = signal.butter(8, float(rng.uniform(5500, 7400)), fs=OUT_SR, output="sos")
        y = signal.sosfilt(lp, y)
    return np.asarray(y, dtype=np.float32)


def process(y: np.ndarray, sr: int, spec: ProcessSpec) -> list[tuple[np.ndarray, str]]:
    """Apply the nuisance-control chain; return ``[(segment at 16 kHz, channel name), ...]``.

    Parameters
    ----------
    y : np.ndarray
        Rendered mono waveform.
    sr : int
        Its rate.
    spec : ProcessSpec
        Band and seed of the item.

    Returns
    -------
    list of (np.ndarray, str)
        float32 segments in [-1, 1] and the channel condition applied to each; empty when
        the recording holds less than :data:`MIN_SEGMENT` seconds of sound.
    """
    rng = np.random.default_rng(spec.seed)
    x = np.asarray(y, dtype=np.float64)
    if len(x) == 0 or not np.all(np.isfinite(x)):
        return []
    x = trim_silence(x - x.mean(), sr)
    if len(x) < MIN_SEGMENT * sr:
        return []
    band = "nb" if sr <= 8000 else spec.band
    x = resample(x.astype(np.float32), sr, OUT_SR)
    x = _band(x, band, rng)
    out: list[tuple[np.ndarray, str]] = []
    for k, (a, b) in enumerate(_segments(len(x), OUT_SR, rng)):
        seg = trim_silence(x[a:b], OUT_SR) if k > 0 or b < len(x) else x[a:b]
        if len(seg) < MIN_SEGMENT * OUT_SR:
            continue
        pads = (rng.uniform(0.05, 0.6, size=2) * OUT_SR).astype(int)
        seg = np.concatenate([np.zeros(pads[0], np.float32), seg, np.zeros(pads[1], np.float32)])
        name, cond = _pick(rng, NB_CHANNELS if band == "nb" else WB_CHANNELS)
        seg = seg / (np.max(np.abs(seg)) + 1e-9) * 0.5
        if cond:
            seg = apply_channel(seg, sr=OUT_SR, condition=cond, seed=int(rng.integers(2**31)))
        level = 10 ** (rng.uniform(-32.0, -16.0) / 20.0)
        seg = seg * (level / _active_rms(seg, OUT_SR))
        floor = level * 10 ** (-rng.uniform(45.0, 70.0) / 20.0)
        seg = seg + floor * rng.standard_normal(len(seg)).astype(np.float32)
        peak = float(np.max(np.abs(seg)))
        if peak > 0.97:
            seg = seg * (float(rng.uniform(0.85, 0.97)) / peak)
        out.append((seg.astype(np.float32), name))
    return out
