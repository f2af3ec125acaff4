"""Vocoder copy-synthesis of real training utterances (WORLD, Griffin-Lim, LPC, phase vocoder).

Each system re-synthesises bona fide items of its own split, so a copy and its source
always share a split. Analysis runs at ``min(source rate, 16 kHz)``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from .._io import resample
from . import Generator, Item, PlanContext, get_generator, register, spoof_item

__all__ = ["CopySynthesisGenerator", "plan_copies", "render_bonafide", "render_source"]

logger = logging.getLogger(__name__)


def render_source(item: Item, *, seed: int) -> tuple[np.ndarray, int]:
    """Render the bona fide source item of a copy-synthesis item at <= 16 kHz."""
    return render_bonafide(item.params["source"], seed=seed)


def render_bonafide(fields: dict[str, Any], *, seed: int) -> tuple[np.ndarray, int]:
    """Render a bona fide item given as its fields (as planned into ``params``) at <= 16 kHz."""
    src = Item(**fields)
    y, sr = get_generator(src.generator).generate(src, seed=seed)
    if sr > 16000:
        y, sr = resample(y, sr, 16000), 16000
    return np.asarray(y, dtype=np.float64), sr


def plan_copies(
    ctx: PlanContext,
    *,
    generator: str,
    family: str,
    system: str | Callable[[int], str],
    split: str,
    budget: float,
    rng_key: str,
    repeat: int = 1,
    native_sr: int | None = None,
    extra_params: Callable[[int], dict[str, Any]] | None = None,
) -> list[Item]:
    """Spoof items that transform bona fide items of ``split`` (copy-synthesis, codecs...).

    Sources are drawn in a seeded order (``ctx.rng(rng_key)``), each at most ``repeat``
    times, until about ``budget`` seconds are planned. Item ``k`` is named
    ``<system>_<k>``, keeps its source's speaker, language and text, and carries the
    source item in ``params['source']`` (plus ``extra_params(k)``). ``system`` may be a
    function of ``k`` (one generator setting per item, e.g. a codec's bitrate);
    ``native_sr`` defaults to the source's rate capped at 16 kHz.
    """
    pool = ctx.bonafide_pool(split, max_seconds=16.0)
    name_of = system if callable(system) else (lambda _k: system)
    if not pool:
        logger.info("%s: no bona fide source in %s; skipped", name_of(0), split)
        return []
    order = ctx.rng(rng_key).permutation(len(pool))
    items: list[Item] = []
    acc = 0.0
    for k in range(len(pool) * repeat):
        if acc >= budget:
            break
        src = pool[int(order[k % len(pool)])]
        acc += src.est_seconds
        sys_k = name_of(k)
        params = {"source": dataclasses.asdict(src), **(extra_params(k) if extra_params else {})}
        items.append(
            spoof_item(
                item_id=f"{sys_k}_{k:05d}",
                generator=generator,
                system=sys_k,
                family=family,
                source=f"{generator}<-{src.source}",
                speaker=src.speaker,
                language=src.language,
                text=src.text,
                split=split,
                params=params,
                native_sr=native_sr if native_sr is not None else min(src.native_sr, 16000),
                est_seconds=src.est_seconds,
            )
        )
    return items


def world_analyse(y: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """F0 (DIO + StoneMask), spectral envelope (CheapTrick) and aperiodicity (D4C)."""
    import pyworld

    f0, t = pyworld.dio(y, sr, frame_period=5.0)
    f0 = pyworld.stonemask(y, f0, t, sr)
    sp = pyworld.cheaptrick(y, f0, t, sr)
    ap = pyworld.d4c(y, f0, t, sr)
    return f0, sp, ap


def _world(y: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    import pyworld

    f0, sp, ap = world_analyse(y, sr)
    return pyworld.synthesize(f0, sp, ap, sr, frame_period=5.0)


def _gl_mel(y: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Mel magnitude -> linear magnitude (non-negative pseudo-inverse) -> Griffin-Lim."""
    import librosa

    n_fft = 1024 if sr > 8000 else 512
    n_mels = int(rng.choice([64, 80])) if sr > 8000 else 40
    hop = n_fft // 4
    mag = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop))
    basis = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)
    lin = np.maximum(0.0, np.linalg.pinv(basis) @ (basis @ mag))
    return librosa.griffinlim(lin, n_iter=32, hop_length=hop, n_fft=n_fft, length=len(y))


def _gl_linear(y: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    import librosa

    n_fft = 512 if sr > 8000 else 256
    mag = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=n_fft // 4))
    return librosa.griffinlim(
        mag, n_iter=int(rng.integers(16, 48)), hop_length=n_fft // 4, n_fft=n_fft, length=len(y)
    )


def _lpc(y: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    """LPC vocoder: per-frame all-pole filter driven by pulses (voiced) or noise."""
    import librosa
    import pyworld
    from scipy.signal import lfilter

    order = int(rng.integers(12, 22)) if sr > 8000 else 10
    hop = int(0.01 * sr)
    win = 2 * hop
    f0, _ = pyworld.dio(y, sr, frame_period=10.0)
    out = np.zeros(len(y) + win)
    window = np.hanning(win)
    phase = 0.0
    zi = np.zeros(order)
    for i, start in enumerate(range(0, len(y) - win, hop)):
        frame = y[start : start + win] * window
        if not np.any(frame):
            continue
        a = librosa.lpc(frame + 1e-9 * rng.standard_normal(win), order=order)
        resid = lfilter(a, [1.0], frame)
        gain = np.sqrt(np.mean(resid**2))
        f = f0[min(i, len(f0) - 1)]
        if f > 0:
            exc = np.zeros(hop)
            period = sr / f
            while phase < hop:
                exc[int(phase)] = np.sqrt(period)
                phase += period
            phase -= hop
        else:
            exc = rng.standard_normal(hop)
        seg, zi = lfilter([gain], a, exc, zi=zi)
        out[start : start + hop] += seg
    return out[: len(y)]


def _phase_vocoder(y: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    import librosa

    rate = float(rng.choice([rng.uniform(0.85, 0.97), rng.uniform(1.03, 1.15)]))
    n_fft = 512 if sr > 8000 else 256
    d = librosa.stft(y, n_fft=n_fft, hop_length=n_fft // 4)
    d = librosa.phase_vocoder(d, rate=rate, hop_length=n_fft // 4)
    return librosa.istft(d, hop_length=n_fft // 4, n_fft=n_fft)


_SYSTEMS = {
    "world-dio-cheaptrick-d4c": (_world, 1.0, True),
    "griffinlim-mel": (_gl_mel, 1.0, False),
    "griffinlim-linear": (_gl_linear, 0.8, False),
    "lpc-vocoder": (_lpc, 0.8, True),
    "phase-vocoder-stretch": (_phase_vocoder, 0.8, False),
}


@register
class CopySynthesisGenerator(Generator):
    """Analysis-resynthesis of bona fide items with classic vocoders."""

    name = "copysynth"
    family = "vocoder-copy-synthesis"
    needs_source_audio = True
    default_hours = 2.0
    smoke = True

    def _active(self) -> dict[str, tuple]:
        has_world = importlib.util.find_spec("pyworld") is not None
        return {k: v for k, v in _SYSTEMS.items() if has_world or not v[2]}

    def systems(self) -> dict[str, str]:
        return {k: self.family for k in self._active()}

    def plan(self, ctx: PlanContext, *, hours: float) -> list[Item]:
        systems = self._active()
        total_w = sum(v[1] for v in systems.values())
        items: list[Item] = []
        for system, (_fn, weight, _) in systems.items():
            items += plan_copies(
                ctx,
                generator=self.name,
                family=self.family,
                system=system,
                split=ctx.system_split(system, self.family),
                budget=30.0 if ctx.smoke else hours * 3600 * weight / total_w,
                rng_key=f"copysynth:{system}",
                repeat=3,
            )
        return items

    def generate(self, item: Item, *, seed: int) -> tuple[np.ndarray, int]:
        y, sr = render_source(item, seed=seed)
        fn = _SYSTEMS[item.system][0]
        out = fn(y, sr, np.random.default_rng(seed))
        return np.asarray(out, dtype=np.float32), sr
