"""CMU Flite: diphone (kal) and clustergen statistical-parametric voices (awb, rms, slt)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from .._io import read_audio
from . import Item, register
from ._tts import TTSGenerator, Voice

_VOICES = {
    "kal": ("unit-selection", 8000),
    "kal16": ("unit-selection", 16000),
    "awb": ("hmm-tts", 16000),
    "rms": ("hmm-tts", 16000),
    "slt": ("hmm-tts", 16000),
}


def _installed() -> list[str]:
    try:
        out = subprocess.run(["flite", "-lv"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return out.split(":", 1)[-1].split()


@register
class FliteGenerator(TTSGenerator):
    """Every bundled Flite voice (``flite -lv``) except the time-only ``awb_time``."""

    name = "flite"
    family = "hmm-tts"
    default_hours = 1.6
    smoke = True
    voices = tuple(Voice(f"flite:{v}", fam, v, ("en",), sr) for v, (fam, sr) in _VOICES.items())

    def available(self) -> bool:
        return shutil.which("flite") is not None

    def unavailable_reason(self) -> str:
        return "flite not installed (apt-get install flite)"

    def active_voices(self) -> tuple[Voice, ...]:
        have = set(_installed())
        return tuple(v for v in self.voices if v.voice in have)

    def item_params(self, voice: Voice, rng: np.random.Generator) -> dict[str, object]:
        return {"voice": voice.voice, "stretch": round(float(rng.uniform(0.85, 1.2)), 3)}

    def generate(self, item: Item, *, seed: int) -> tuple[np.ndarray, int]:
        with tempfile.TemporaryDirectory(prefix="flite") as tmp:
            out = Path(tmp) / "o.wav"
            subprocess.run(
                [
                    "flite",
                    "-voice",
                    item.params["voice"],
                    "--setf",
                    f"duration_stretch={item.params['stretch']}",
                    "-t",
                    item.text,
                    "-o",
                    str(out),
                ],
                capture_output=True,
                timeout=120,
                check=True,
            )
            return read_audio(out)
