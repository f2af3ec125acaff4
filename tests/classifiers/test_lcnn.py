"""LFCC/log-mel LCNN: shapes, dynamic length, heads, gain invariance of the CMVN front end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from audio_detect.audio.io import load_audio  # noqa: E402
from audio_detect.classifiers.lcnn import LCNN, MaxFeatureMap2d  # noqa: E402
from audio_detect.config import FeatureConfig  # noqa: E402

pytestmark = pytest.mark.torch

SMALL = {"channels": (4, 4, 6, 4, 4), "emb_dim": 8, "dropout": 0.0}


def _speech(fixture_audio: dict[str, Path], seconds: float = 2.0) -> np.ndarray:
    y = load_audio(fixture_audio["bonafide_lj001-0001"], sr=16000).samples
    return y[: int(seconds * 16000)]


def test_mfm_halves_channels() -> None:
    x = torch.randn(2, 6, 5, 7)
    out = MaxFeatureMap2d()(x)
    assert out.shape == (2, 3, 5, 7)
    assert torch.equal(out, torch.maximum(x[:, :3], x[:, 3:]))


@pytest.mark.parametrize("kind", ["lfcc", "logmel"])
def test_forward_any_length(kind: str) -> None:
    torch.manual_seed(0)
    model = LCNN(FeatureConfig(kind=kind, n_filter=40, n_coeff=20), **SMALL).eval()
    with torch.no_grad():
        for n in (8000, 16000, 50001):
            out = model(torch.randn(3, n) * 0.1)
            assert out.shape == (3,)
            assert torch.isfinite(out).all()


def test_cosine_head_is_bounded() -> None:
    torch.manual_seed(0)
    model = LCNN(FeatureConfig(kind="lfcc"), head="cosine", **SMALL).eval()
    with torch.no_grad():
        out = model(torch.randn(4, 16000) * 0.1)
    assert out.shape == (4,)
    assert float(out.abs().max()) <= 1.0 + 1e-6


def test_cmvn_makes_score_gain_invariant(fixture_audio: dict[str, Path]) -> None:
    torch.manual_seed(0)
    model = LCNN(FeatureConfig(kind="lfcc"), **SMALL).eval()
    x = torch.from_numpy(_speech(fixture_audio))[None]
    with torch.no_grad():
        a, b = model(x), model(0.1 * x)
    assert float((a - b).abs()) < 1e-3


def test_rejects_too_few_features() -> None:
    with pytest.raises(ValueError, match="16 feature bins"):
        LCNN(FeatureConfig(kind="lfcc", n_filter=4, n_coeff=4, deltas=False), **SMALL)
