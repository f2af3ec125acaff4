"""The decoded-audio value type shared by every stage."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Audio"]


@dataclass(frozen=True)
class Audio:
    """Mono float32 samples in [-1, 1] plus what is known of their origin.

    Attributes
    ----------
    samples : np.ndarray
        1-D float32 array at ``sr``.
    sr : int
        Sample rate of ``samples``.
    source_sr : int
        Sample rate of the input before resampling.
    channels : int
        Channel count of the input before channel selection.
    codec : str
        Codec name as reported by the decoder (``pcm_s16le``, ``mp3``, ``pcm_mulaw``...).
    container : str
        Container/format name (``wav``, ``flac``, ``ogg``, ``raw``...).
    bit_depth : int or None
        Bits per sample for PCM inputs, else None.
    """

    samples: np.ndarray
    sr: int
    source_sr: int
    channels: int = 1
    codec: str = "unknown"
    container: str = "unknown"
    bit_depth: int | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        """Duration in seconds."""
        return float(len(self.samples)) / float(self.sr)

    def metadata(self) -> dict[str, object]:
        """Return the origin description as a JSON-ready dict."""
        return {
            "sr": self.sr,
            "source_sr": self.source_sr,
            "channels": self.channels,
            "codec": self.codec,
            "container": self.container,
            "bit_depth": self.bit_depth,
            "duration": round(self.duration, 4),
        }
