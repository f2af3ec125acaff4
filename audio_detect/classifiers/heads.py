"""Building blocks shared by the neural countermeasures: score heads, feature norm."""

from __future__ import annotations

import torch
from torch import nn

from .layers import MatmulConv1d

__all__ = ["HEADS", "AttentiveStatsPool", "ScoreHead", "feature_norm"]

HEADS = ("linear", "cosine")


class ScoreHead(nn.Module):
    """Map an embedding to one raw score, higher = spoof.

    Parameters
    ----------
    dim : int
        Embedding size.
    kind : str
        ``linear``: an affine map, the logit difference ``logit(spoof) -
        logit(bona fide)`` of a two-class softmax (trained with cross-entropy).
        ``cosine``: minus the cosine similarity of an embedding to a learned bona fide
        direction, in ``[-1, 1]``, as in one-class softmax (Zhang, Jiang & Duan,
        "One-class learning towards synthetic voice spoofing detection", IEEE SPL
        2021). The embedding is an affine map of the batch-normalised input, as the
        paper's FC embedding layer: pooled statistics (a standard deviation, means of
        GELU outputs) share a large positive offset, so their raw directions differ by
        a few degrees and a cosine on them cannot separate anything (the cause of the
        50 % dev EER of the first OC-softmax run, docs/training.md).
    """

    def __init__(self, dim: int, *, kind: str = "linear") -> None:
        super().__init__()
        if kind not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {kind!r}")
        self.kind = kind
        if kind == "linear":
            self.fc = nn.Linear(dim, 1)
        else:
            self.embed = nn.Sequential(nn.BatchNorm1d(dim), nn.Linear(dim, dim))
            self.center = nn.Parameter(torch.randn(1, dim) * 0.25)

    def forward(self, emb: torch.Tensor) -> torch.Tensor:
        """``(B, dim) -> (B,)``."""
        if self.kind == "linear":
            return self.fc(emb).squeeze(-1)
        w = nn.functional.normalize(self.center, dim=1, eps=1e-6)
        x = nn.functional.normalize(self.embed(emb), dim=1, eps=1e-6)
        return -(x * w).sum(dim=1)


def feature_norm(
    feats: torch.Tensor, mode: str, eps: float = 1e-5, *, dim: int = 2
) -> torch.Tensor:
    """Normalise features over time (axis ``dim``: 2 for ``(B, F, T)``) per window.

    ``cmvn``: zero mean, unit variance per coefficient (gain and stationary channel
    invariant); ``cms``: cepstral mean subtraction only; ``none``: unchanged.
    """
    if mode == "none":
        return feats
    mu = feats.mean(dim=dim, keepdim=True)
    if mode == "cms":
        return feats - mu
    if mode == "cmvn":
        var = (feats - mu).pow(2).mean(dim=dim, keepdim=True)
        return (feats - mu) / torch.sqrt(var + eps)
    raise ValueError(f"norm must be 'cmvn', 'cms' or 'none', got {mode!r}")


class AttentiveStatsPool(nn.Module):
    """Attentive statistics pooling over time (Okabe et al., Interspeech 2018).

    Maps ``(B, D, T)`` to ``(B, 2D)``: attention-weighted mean and standard deviation.
    """

    def __init__(self, dim: int, hidden: int = 32) -> None:
        super().__init__()
        self.att = nn.Sequential(
            MatmulConv1d(dim, hidden, 1), nn.Tanh(), MatmulConv1d(hidden, dim, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = torch.softmax(self.att(x), dim=2)
        mu = torch.sum(w * x, dim=2)
        var = torch.sum(w * x * x, dim=2) - mu * mu
        return torch.cat([mu, torch.sqrt(var.clamp(min=1e-6))], dim=1)
