"""AASIST-L: the ~85k-parameter configuration, dynamic length, and ONNX export parity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from audio_detect.audio.io import load_audio  # noqa: E402
from audio_detect.classifiers.aasist_l import AASISTL, GraphPool, sinc_filterbank  # noqa: E402

pytestmark = pytest.mark.torch

TINY = {
    "sinc_filters": 21,
    "sinc_stride": 16,
    "filts": [[1, 4], [4, 4], [4, 4], [4, 4]],
    "pools": [3, 3, 3, 2, 1, 1],
    "gat_dims": [4, 6],
}


def test_default_is_aasist_l_size() -> None:
    n = sum(p.numel() for p in AASISTL().parameters())
    assert 80_000 <= n <= 90_000  # AASIST-L: about 85k


def test_sinc_filterbank_shape_and_band() -> None:
    bank = sinc_filterbank(10, 128, 16000)
    assert bank.shape == (10, 1, 129)
    spec = np.abs(np.fft.rfft(bank[0, 0], 1024))
    assert np.argmax(spec) < 100  # the first filter is a low band


def test_graph_pool_keeps_ratio() -> None:
    pool = GraphPool(0.5, 3, p=0.0)
    assert pool(torch.randn(2, 10, 3)).shape == (2, 5, 3)
    assert pool(torch.randn(2, 1, 3)).shape == (2, 1, 3)


def test_forward_any_length() -> None:
    torch.manual_seed(0)
    model = AASISTL(**TINY).eval()
    with torch.no_grad():
        for n in (16000, 40000, 64001):
            out = model(torch.randn(2, n) * 0.1)
            assert out.shape == (2,)
            assert torch.isfinite(out).all()


@pytest.mark.slow  # dynamo export of the graph-attention model takes ~20-60 s of CPU
def test_onnx_export_parity_dynamic_length(tmp_path: Path, fixture_audio: dict[str, Path]) -> None:
    pytest.importorskip("onnxruntime")
    from audio_detect.training.export import check_onnx_parity, export_onnx

    torch.manual_seed(0)
    model = AASISTL(**TINY).eval()
    path = export_onnx(model, tmp_path / "aasist.onnx", sample_rate=16000, example_seconds=2.0)
    y = load_audio(fixture_audio["bonafide_lj001-0001"], sr=16000).samples
    s = load_audio(fixture_audio["spoof_wavefake_lj001-0001_gen"], sr=16000).samples
    for n in (24000, 24160, 56789):  # lengths other than the traced one, several residues
        batch = np.stack([y[:n], s[:n]])
        assert check_onnx_parity(model, path, batch, atol=1e-4) <= 1e-4
