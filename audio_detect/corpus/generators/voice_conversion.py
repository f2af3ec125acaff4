"""A simple WORLD voice conversion: F0 and spectral-envelope warping towards another speaker."""

from __future__ import annotations

import dataclasses
import importlib.util
from typing import Any

import numpy as np

from . import Generator, Item, PlanContext, register, spoof_item
from .copysynth import render_source, world_analyse

__all__ = ["WorldVCGenerator", "conversion_item"]


def _median_log_f0(y: np.ndarray, sr: int) -> float:
    import pyworld

    f0, _ = pyworld.dio(y, sr, frame_period=10.0)
    voiced = f0[f0 > 0]
    return float(np.median(np.log(voiced))) if len(voiced) else float(np.log(150.0))


def _warp_envelope(sp: np.ndarray, alpha: float) -> np.ndarray:
    """Stretch the frequency axis of a spectral envelope by ``alpha`` (formant shift)."""
    n = sp.shape[1]
    src = np.clip(np.arange(n) / alpha, 0, n - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    w = src - lo
    return sp[:, lo] * (1 - w) + sp[:, hi] * w


def conversion_item(
    gen: Generator,
    k: int,
    *,
    system: str,
    source: Item,
    speaker: str,
    split: str,
    params: dict[str, Any],
    native_sr: int,
) -> Item:
    """The ``k``-th conversion of a generator: ``source``'s words in ``speaker``'s voice
    (the source item goes into ``params['source']``, next to ``params``)."""
    return spoof_item(
        item_id=f"{gen.name}_{k:05d}",
        generator=gen.name,
        system=system,
        family=gen.family,
        source=f"{gen.name}<-{source.source}",
        speaker=speaker,
        language=source.language,
        text=source.text,
        split=split,
        params={"source": dataclasses.asdict(source), **params},
        native_sr=native_sr,
        est_seconds=source.est_seconds,
    )


@register
class WorldVCGenerator(Generator):
    """Convert a source speaker's utterance towards a target speaker of the same split."""

    name = "world_vc"
    family = "voice-conversion"
    needs_source_audio = True
    default_hours = 0.35
    smoke = False

    def available(self) -> bool:
        return importlib.util.find_spec("pyworld") is not None

    def unavailable_reason(self) -> str:
        return "pip install pyworld (the corpus extra)"

    def systems(self) -> dict[str, str]:
        return {"world-vc-f0-envelope-warp": self.family}

    def plan(self, ctx: PlanContext, *, hours: float) -> list[Item]:
        system = "world-vc-f0-envelope-warp"
        split = ctx.system_split(system, self.family)
        pool = ctx.bonafide_pool(split, max_seconds=14.0)
        by_spk: dict[str, list[Item]] = {}
        for it in pool:
            by_spk.setdefault(it.speaker, []).append(it)
        speakers = sorted(by_spk)
        if len(speakers) < 2:
            return []
        rng = ctx.rng("world_vc")
        budget = 30.0 if ctx.smoke else hours * 3600
        items: list[Item] = []
        acc = 0.0
        k = 0
        while acc < budget and k < 20 * len(pool):
            src = pool[int(rng.integers(len(pool)))]
            others = [s for s in speakers if s != src.speaker]
            tgt_spk = others[int(rng.integers(len(others)))]
            tgt = by_spk[tgt_spk][int(rng.integers(len(by_spk[tgt_spk])))]
            items.append(
                conversion_item(
                    self,
                    k,
                    system=system,
                    source=src,
                    speaker=tgt_spk,
                    split=split,
                    params={"target": dataclasses.asdict(tgt)},
                    native_sr=min(src.native_sr, 16000),
                )
            )
            acc += src.est_seconds
            k += 1
        return items

    def generate(self, item: Item, *, seed: int) -> tuple[np.ndarray, int]:
        import pyworld

        y, sr = render_source(item, seed=seed)
        tgt_item = dataclasses.replace(item, params={"source": item.params["target"]})
        yt, srt = render_source(tgt_item, seed=seed + 1)
        shift = _median_log_f0(yt, srt) - _median_log_f0(y, sr)
        f0, sp, ap = world_analyse(y, sr)
        ratio = float(np.exp(shift))
        alpha = float(np.clip(ratio**0.25, 0.85, 1.18))
        f0 = np.where(f0 > 0, f0 * ratio, 0.0)
        sp = np.ascontiguousarray(_warp_envelope(sp, alpha))
        out = pyworld.synthesize(np.ascontiguousarray(f0), sp, ap, sr, frame_period=5.0)
        return out.astype(np.float32), sr
