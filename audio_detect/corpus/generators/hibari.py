"""Hibari: English neural TTS distilled from Kokoro-82M (ONNX, weights inside the wheel)."""

from __future__ import annotations

import functools
import importlib.util

import numpy as np

from . import Item, register
from ._tts import TTSGenerator, Voice


@functools.cache
def _engine():  # pragma: no cover - exercised when hibari-tts is installed
    from hibari import Hibari

    return Hibari(voice="heart", threads=1)


@register
class HibariGenerator(TTSGenerator):
    """``hibari-tts`` (Apache-2.0) with its bundled American voice, random speed and noise seed.

    The model predicts harmonic and noise parameters that a differentiable-DSP synthesiser
    turns into 24 kHz audio: an acoustic model of the Kokoro/StyleTTS 2 lineage with a
    vocoder unlike the GAN vocoders elsewhere in the corpus. Only the ``heart`` voice is in
    the wheel (the others would be downloaded, which the corpus never does).
    """

    name = "hibari"
    family = "neural-tts"
    default_hours = 0.4
    smoke = False
    voices = (Voice("hibari:heart", "neural-tts", "heart", ("en",), 24000),)

    def available(self) -> bool:
        return importlib.util.find_spec("hibari") is not None

    def unavailable_reason(self) -> str:
        return "pip install hibari-tts (the corpus extra)"

    def pinned_splits(self) -> dict[str, str]:
        """Held for dev: a neural TTS system that model selection and calibration see."""
        return {v.system: "dev" for v in self.active_voices()} if self.available() else {}

    def item_params(self, voice: Voice, rng: np.random.Generator) -> dict[str, object]:
        return {"voice": voice.voice, "speed": round(float(rng.uniform(0.8, 1.25)), 3)}

    def generate(self, item: Item, *, seed: int) -> tuple[np.ndarray, int]:
        tts = _engine()
        y = tts(item.text, speed=float(item.params["speed"]), seed=seed % (2**32))
        return np.asarray(y, dtype=np.float32), int(tts.sample_rate)
