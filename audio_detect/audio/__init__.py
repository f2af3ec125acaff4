"""Audio input: decoding, resampling, speech activity, channel simulation, windowing."""

from .io import RawFormat, decode_raw, encode_g711, load_audio, resample, save_audio
from .types import Audio
from .vad import speech_mask, speech_regions, speech_seconds

__all__ = [
    "Audio",
    "RawFormat",
    "decode_raw",
    "encode_g711",
    "load_audio",
    "resample",
    "save_audio",
    "speech_mask",
    "speech_regions",
    "speech_seconds",
]
