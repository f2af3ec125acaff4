"""eSpeak NG formant synthesis (several languages and voice variants)."""

from __future__ import annotations

import shutil

import numpy as np

from . import Item, register
from ._tts import TTSGenerator, Voice, run_to_wav

_LANGS = ("en", "es", "fr", "it", "ru", "de", "pt")
_VARIANTS = ("m1", "f2", "m3", "f4", "klatt", "klatt4", "croak", "m7", "f5", "whisper")


@register
class EspeakGenerator(TTSGenerator):
    """``espeak-ng -v <lang>+<variant>`` with random speed and pitch."""

    name = "espeak"
    family = "formant-tts"
    default_hours = 2.2
    smoke = True
    voices = tuple(
        Voice(f"espeak-ng:{v}", "formant-tts", v, _LANGS, 22050, 0.3 if v == "whisper" else 1.0)
        for v in _VARIANTS
    )

    def available(self) -> bool:
        return shutil.which("espeak-ng") is not None

    def unavailable_reason(self) -> str:
        return "espeak-ng not installed (apt-get install espeak-ng)"

    def item_params(self, voice: Voice, rng: np.random.Generator) -> dict[str, object]:
        return {
            "voice": voice.voice,
            "speed": int(rng.integers(130, 190)),
            "pitch": int(rng.integers(25, 75)),
        }

    def generate(self, item: Item, *, seed: int) -> tuple[np.ndarray, int]:
        p = item.params
        cmd = [
            "espeak-ng",
            "-v",
            f"{item.language}+{p['voice']}",
            "-s",
            str(p["speed"]),
            "-p",
            str(p["pitch"]),
            "--stdout",
            "-b",
            "1",
            item.text,
        ]
        return run_to_wav(cmd)
