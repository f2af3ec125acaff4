"""Light CNN (LCNN) spoofing countermeasure on LFCC or log-mel features.

The network follows the LCNN used by the ASVspoof 2019/2021 LFCC-LCNN baselines
(Lavrentyeva et al., "STC antispoofing systems for the ASVspoof2019 challenge",
Interspeech 2019; Wang & Yamagishi, "A comparative study on recent neural spoofing
countermeasures for synthetic speech detection", Interspeech 2021): convolutions
with Max-Feature-Map (MFM) activations, max pooling and batch norm. The
bidirectional LSTM of Wang & Yamagishi is replaced by a light temporal
convolution and attentive statistics pooling, which is cheaper on CPU and exports
to ONNX with a dynamic number of frames.

The feature front end (:func:`audio_detect.features.torch_frontend.build_frontend`)
sits inside the module, so the exported graph maps a raw waveform to a score.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from ..config import FeatureConfig
from ..features.torch_frontend import build_frontend
from .heads import AttentiveStatsPool, ScoreHead, feature_norm

__all__ = ["LCNN", "MaxFeatureMap2d"]

logger = logging.getLogger(__name__)


class MaxFeatureMap2d(nn.Module):
    """Max-Feature-Map: split channels in two halves and keep the element-wise max.

    Wu et al., "A Light CNN for deep face representation with noisy labels", IEEE
    TIFS 2018; used for anti-spoofing by Lavrentyeva et al. (2017, 2019).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 2C, F, T) -> (B, C, F, T)``."""
        a, b = torch.chunk(x, 2, dim=1)
        return torch.maximum(a, b)


def _mfm_conv(c_in: int, c_out: int, k: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, 2 * c_out, k, padding=k // 2), MaxFeatureMap2d())


class _NetworkInNetwork(nn.Module):
    """1x1 MFM conv, batch norm, kxk MFM conv (one LCNN stage)."""

    def __init__(self, c_in: int, c_mid: int, c_out: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _mfm_conv(c_in, c_mid, 1), nn.BatchNorm2d(c_mid), _mfm_conv(c_mid, c_out, 3)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class LCNN(nn.Module):
    """LFCC/log-mel LCNN: waveform ``(B, N)`` -> raw spoof score ``(B,)``.

    Parameters
    ----------
    feature : FeatureConfig
        Front end configuration (``kind`` ``lfcc`` or ``logmel``).
    channels : sequence of int
        Output channels of the five MFM stages. ``(32, 48, 64, 32, 32)`` is the
        Wang & Yamagishi (2021) LCNN; the default halves it for CPU training.
    emb_dim : int
        Size of the utterance embedding before the score head.
    dropout : float
        Dropout before the score head.
    norm : str
        Per-window feature normalisation over time: ``cmvn``, ``cms`` or ``none``.
        ``cmvn`` removes gain and stationary channel colouring.
    head : str
        ``linear`` (logit difference; trained with cross-entropy) or ``cosine``
        (negative cosine to the bona fide direction; trained with OC-softmax).

    Notes
    -----
    With a single output logit ``s`` the two-class softmax cross-entropy equals the
    binary cross-entropy on ``s = logit(spoof) - logit(bona fide)``, so the linear
    head outputs that difference directly.
    """

    def __init__(
        self,
        feature: FeatureConfig,
        *,
        channels: tuple[int, ...] | list[int] = (16, 24, 32, 16, 16),
        emb_dim: int = 64,
        dropout: float = 0.3,
        norm: str = "cmvn",
        head: str = "linear",
    ) -> None:
        super().__init__()

        if len(channels) != 5:
            raise ValueError(f"LCNN needs 5 channel widths, got {list(channels)}")
        c1, c2, c3, c4, c5 = (int(c) for c in channels)
        self.feature = feature
        self.frontend = build_frontend(feature)
        self.norm = norm
        self.body = nn.Sequential(
            _mfm_conv(1, c1, 5),
            nn.MaxPool2d(2, 2),
            _NetworkInNetwork(c1, c1, c2),
            nn.MaxPool2d(2, 2),
            nn.BatchNorm2d(c2),
            _NetworkInNetwork(c2, c2, c3),
            nn.MaxPool2d(2, 2),
            _NetworkInNetwork(c3, c3, c4),
            nn.BatchNorm2d(c4),
            _NetworkInNetwork(c4, c4, c5),
            nn.MaxPool2d((2, 1), (2, 1)),
        )
        n_feat = int(self.frontend.n_features)
        self._freq_out = n_feat // 16
        if self._freq_out < 1:
            raise ValueError(f"LCNN needs at least 16 feature bins, the front end gives {n_feat}")
        d = c5 * self._freq_out
        self.temporal = nn.Sequential(
            nn.Conv1d(d, emb_dim, 3, padding=1), nn.BatchNorm1d(emb_dim), nn.GELU()
        )
        self.pool = AttentiveStatsPool(emb_dim)
        self.embed = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * emb_dim, emb_dim))
        self.head = ScoreHead(emb_dim, kind=head)

    def embedding(self, waveform: torch.Tensor) -> torch.Tensor:
        """Return the utterance embedding ``(B, emb_dim)``."""
        feats = self.frontend(waveform)  # (B, F, T)
        feats = feature_norm(feats, self.norm)
        x = self.body(feats.unsqueeze(1))  # (B, C, F', T')
        x = x.flatten(1, 2)  # (B, C*F', T')
        x = self.temporal(x)
        return self.embed(self.pool(x))

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """Raw score, higher = spoof, shape ``(B,)``."""
        return self.head(self.embedding(waveform))
