"""Torch layers of the neural countermeasures: see :mod:`audio_detect.torch_layers`.

They live there, below both ``features`` and ``classifiers``, because the Whisper stem in
:mod:`audio_detect.features.whisper_torch` uses them too; re-exported here.
"""

from __future__ import annotations

from ..torch_layers import ChannelsLastBatchNorm1d, MatmulConv1d

__all__ = ["ChannelsLastBatchNorm1d", "MatmulConv1d"]
