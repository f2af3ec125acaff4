"""Shared planning for text-to-speech generators (one row per voice = one system)."""

from __future__ import annotations

import io
import logging
import re
import subprocess
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from ...exceptions import AudioDetectError
from . import Generator, Item, PlanContext, spoof_item

__all__ = ["TTSGenerator", "Voice", "run_to_wav"]

logger = logging.getLogger(__name__)

#: Mean seconds of one TTS item; targets are drawn uniformly in (2, 9) s like the bona
#: fide prompt chains.
TARGET_SECONDS = (2.0, 9.0)


@dataclass(frozen=True)
class Voice:
    """One synthesis setting that counts as a system.

    Attributes
    ----------
    system : str
        System name written to the manifest.
    family : str
        Its family.
    voice : str
        Engine-specific voice id.
    languages : tuple of str
        Languages it speaks (texts are drawn from these).
    native_sr : int
        Output rate of the engine for this voice.
    weight : float
        Share of the generator's hours.
    """

    system: str
    family: str
    voice: str
    languages: tuple[str, ...]
    native_sr: int
    weight: float = 1.0


class TTSGenerator(Generator):
    """Base class: plans texts per voice; subclasses render one text."""

    voices: tuple[Voice, ...] = ()

    def active_voices(self) -> tuple[Voice, ...]:
        """Voices usable on this machine (subclasses filter on installed data)."""
        return self.voices

    def systems(self) -> dict[str, str]:
        return {v.system: v.family for v in self.active_voices()}

    def plan(self, ctx: PlanContext, *, hours: float) -> list[Item]:
        voices = self.active_voices()
        if not voices:
            return []
        total_w = sum(v.weight for v in voices)
        items: list[Item] = []
        for v in voices:
            n = 2 if ctx.smoke else max(1, round(hours * 3600 * v.weight / total_w / 5.5))
            rng = ctx.rng(f"{self.name}:{v.system}")
            split = ctx.system_split(v.system, v.family)
            for k in range(n):
                lang = v.languages[int(rng.integers(len(v.languages)))]
                target = float(rng.uniform(*TARGET_SECONDS))
                text = ctx.texts.sample(rng, lang, target_seconds=target)
                items.append(
                    spoof_item(
                        item_id=re.sub(r"[^A-Za-z0-9_-]", "_", f"{v.system}_{k:05d}"),
                        generator=self.name,
                        system=v.system,
                        family=v.family,
                        source=self.name,
                        speaker=f"{self.name}:{v.voice}",
                        language=lang,
                        text=text,
                        split=split,
                        params=self.item_params(v, rng),
                        native_sr=v.native_sr,
                        est_seconds=target,
                    )
                )
        return items

    def item_params(self, voice: Voice, rng: np.random.Generator) -> dict[str, object]:
        """Per-item engine settings (subclasses add prosody variation)."""
        return {"voice": voice.voice}


def run_to_wav(
    cmd: list[str], *, stdin: bytes | None = None, timeout: float = 120.0
) -> tuple[np.ndarray, int]:
    """Run a command that writes a WAV file to stdout; return mono float32 and its rate."""
    try:
        proc = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise AudioDetectError(f"{cmd[0]} failed: {exc}") from exc
    if proc.returncode != 0 or len(proc.stdout) < 100:
        raise AudioDetectError(
            f"{cmd[0]} failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[:300]}"
        )
    y, sr = sf.read(io.BytesIO(proc.stdout), dtype="float32", always_2d=True)
    return y.mean(axis=1), int(sr)
