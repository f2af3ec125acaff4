"""audio-detect: detect synthetic (cloned, TTS, vocoded) speech in call audio.

Quick start::

    from audio_detect import load_detector
    decision = load_detector().score_file("call.wav")
    print(decision.verdict, decision.tier, decision.p_spoof)
"""

from __future__ import annotations

__version__ = "0.1.0"

from .exceptions import AudioDetectError

__all__ = [
    "AudioDetectError",
    "Decision",
    "Detector",
    "__version__",
    "available_models",
    "load_audio",
    "load_detector",
]


def __getattr__(name: str) -> object:
    # Lazy imports keep `import audio_detect` light for the CLI and the API.
    if name in ("Detector", "Decision", "load_detector"):
        from . import detector

        return getattr(detector, name)
    if name == "available_models":
        from .registry import available_models

        return available_models
    if name == "load_audio":
        from .audio.io import load_audio

        return load_audio
    raise AttributeError(f"module 'audio_detect' has no attribute {name!r}")
