"""Score heads: the cosine head must be trainable to OC-softmax's margins."""

from __future__ import annotations

import torch

from audio_detect.classifiers.heads import ScoreHead
from audio_detect.training.losses import OCSoftmaxLoss


def _offset_embeddings(n: int, dim: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pooled-statistics-like embeddings: a large shared positive offset, a small class cue."""
    g = torch.Generator().manual_seed(seed)
    y = (torch.arange(n) % 2).float()
    cue = torch.zeros(n, dim)
    cue[:, 0] = 2 * y - 1  # the class sits on one axis, at 1/20 of the offset
    z = 20.0 + cue + 0.3 * torch.randn(n, dim, generator=g)
    return z, y


def test_cosine_head_reaches_oc_softmax_margins_on_offset_embeddings() -> None:
    torch.manual_seed(0)
    head = ScoreHead(16, kind="cosine")
    loss_fn = OCSoftmaxLoss()
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    for step in range(300):
        z, y = _offset_embeddings(64, 16, seed=step)
        loss = loss_fn(head(z), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    head.eval()
    z, y = _offset_embeddings(256, 16, seed=10_000)
    with torch.no_grad():
        c = -head(z)  # cosine to the bona fide direction
    # Raw directions of these embeddings differ by < 1 degree: without the embedding
    # layer every cosine is the same and neither margin (0.9 / 0.2) can be reached.
    assert float(c[y == 0].mean()) > 0.7
    assert float(c[y == 1].mean()) < 0.3
    assert float(c.abs().max()) <= 1.0 + 1e-6
