"""The float32 weights of a Whisper audio encoder (a plain container).

Read by :func:`audio_detect.features.pretrained.load_whisper_encoder_weights` and run by
NumPy (:mod:`~audio_detect.features.pretrained`) or torch
(:mod:`~audio_detect.features.whisper_torch`). It lives in its own module so both can
import it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["WhisperEncoderWeights"]


@dataclass(frozen=True)
class WhisperEncoderWeights:
    """Float32 weights of a Whisper audio encoder.

    Attributes
    ----------
    name : str
        Encoder name (e.g. ``"whisper-tiny.en"``).
    n_layers, n_heads, d_model : int
        Architecture.
    arrays : dict of str to np.ndarray
        CTranslate2 variable names without the ``encoder/`` prefix, e.g.
        ``"conv1/weight"`` ``(d, 80, 3)``, ``"layer_0/self_attention/linear_0/weight"``
        ``(3d, d)`` (fused q, k, v), ``"position_encodings/encodings"`` ``(1500, d)``.
    """

    name: str
    n_layers: int
    n_heads: int
    d_model: int
    arrays: dict[str, np.ndarray] = field(repr=False)

    @property
    def n_params(self) -> int:
        """Number of parameters (positional encodings excluded)."""
        return int(sum(a.size for k, a in self.arrays.items() if not k.startswith("position")))

    @property
    def n_hidden_states(self) -> int:
        """``n_layers + 2``: stem, each block, final layer norm."""
        return self.n_layers + 2
