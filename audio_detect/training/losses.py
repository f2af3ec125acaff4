"""Training losses written on the raw score ``s`` (higher = spoof).

Both models output one score per window, so both losses take ``(B,)`` scores and
``(B,)`` float labels (1 = spoof).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["OCSoftmaxLoss", "WeightedCELoss", "build_loss"]


class WeightedCELoss(nn.Module):
    """Class-weighted two-class cross-entropy.

    With ``s = logit(spoof) - logit(bona fide)`` the softmax cross-entropy equals
    ``BCEWithLogits(s, y)``. ``spoof_weight`` scales spoof trials (the ASVspoof
    baselines weight the minority class up, e.g. 0.1 : 0.9 in LA 2019).
    """

    def __init__(self, *, spoof_weight: float = 0.5) -> None:
        super().__init__()
        self.spoof_weight = float(spoof_weight)

    def forward(self, score: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        w = torch.where(y > 0.5, 2 * self.spoof_weight, 2 * (1 - self.spoof_weight))
        bce = nn.functional.binary_cross_entropy_with_logits(score, y, reduction="none")
        return (w * bce).mean()


class OCSoftmaxLoss(nn.Module):
    """One-class softmax (Zhang, Jiang & Duan, IEEE SPL 2021).

    With cosine similarity ``c = -s`` to the bona fide direction, bona fide trials
    are pushed above margin ``m_real`` and spoofs below ``m_fake``:
    ``softplus(alpha * (m_real - c))`` and ``softplus(alpha * (c - m_fake))``. The
    compact bona fide class and the open spoof region are what generalise to unseen
    attacks in their ASVspoof 2019 LA experiments.
    """

    def __init__(self, *, m_real: float = 0.9, m_fake: float = 0.2, alpha: float = 20.0) -> None:
        super().__init__()
        self.m_real = m_real
        self.m_fake = m_fake
        self.alpha = alpha

    def forward(self, score: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        c = -score
        margin = torch.where(y > 0.5, c - self.m_fake, self.m_real - c)
        return nn.functional.softplus(self.alpha * margin).mean()


def build_loss(kind: str) -> nn.Module:
    """``ce`` -> :class:`WeightedCELoss`, ``ocsoftmax`` -> :class:`OCSoftmaxLoss`."""
    if kind == "ce":
        return WeightedCELoss()
    if kind == "ocsoftmax":
        return OCSoftmaxLoss()
    raise ValueError(f"unknown loss {kind!r}")
