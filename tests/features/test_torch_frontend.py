"""Torch front end: parity with the numpy features and ONNX export.

Measured parity on the committed speech (float32 module vs float64 numpy cast to
float32): LFCC and MFCC (static, delta and delta-delta) max |diff| < 5e-5, log-mel
< 2e-4, log-linear < 5e-3 (only in bins near the 1e-10 floor). Asserted bounds are
2e-4 for cepstra, 1e-3 for log-mel, and 1e-3 for log-linear bins above 1e-6 power.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audio_detect.config import FeatureConfig
from audio_detect.exceptions import ParameterError
from audio_detect.features import compute_features, linear_filterbank, mel_filterbank
from audio_detect.features.spectrum import dct_matrix
from audio_detect.features.spectrum import delta as np_delta

torch = pytest.importorskip("torch")
torchaudio = pytest.importorskip("torchaudio")

from audio_detect.features.torch_frontend import (  # noqa: E402
    SpectralFrontend,
    build_frontend,
    delta,
)

pytestmark = pytest.mark.torch

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"
SPEECH = {16000: "bonafide_lj001-0001.flac", 8000: "bonafide_8k_hts1a.flac"}
FRAMING = {
    16000: {"sr": 16000, "n_fft": 512, "win_length": 320, "hop_length": 160},
    8000: {"sr": 8000, "n_fft": 256, "win_length": 160, "hop_length": 80},
}
# (kind, n_filter) pairs: baseline LFCC, 40-band MFCC, 80-band log-mel, log-linear.
KINDS = [("lfcc", 20), ("mfcc", 40), ("logmel", 80), ("linear", 20)]


def speech(sr: int) -> np.ndarray:
    y, file_sr = sf.read(AUDIO / SPEECH[sr], dtype="float32")
    assert file_sr == sr
    return y


def run(module, y: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return module(torch.from_numpy(y)[None])[0].numpy()


@pytest.mark.parametrize("sr", [16000, 8000])
@pytest.mark.parametrize(("kind", "n_filter"), KINDS)
def test_torch_matches_numpy_on_real_speech(kind, n_filter, sr):
    config = FeatureConfig(kind=kind, n_filter=n_filter, **FRAMING[sr])
    y = speech(sr)
    ref = compute_features(y, config=config)
    module = build_frontend(config)
    out = run(module, y)
    assert out.shape == ref.shape
    assert out.dtype == np.float32
    assert module.n_features == ref.shape[0]
    assert module.n_frames(len(y)) == ref.shape[1]
    diff = np.abs(out - ref)
    if kind in ("lfcc", "mfcc"):
        assert diff.max() < 2e-4
    elif kind == "logmel":
        assert diff.max() < 1e-3
    else:  # log of single FFT bins: float32 error blows up only near the floor
        n = ref.shape[0] // 3
        above = ref[:n] > np.log(1e-6)
        assert above.mean() > 0.5
        assert diff[:n][above].max() < 1e-3


def test_float64_module_matches_tightly():
    config = FeatureConfig(kind="lfcc", **FRAMING[16000])
    y = speech(16000)
    ref = compute_features(y, config=config)
    module = build_frontend(config).double()
    with torch.no_grad():
        out = module(torch.from_numpy(y.astype(np.float64))[None])[0].numpy()
    assert np.abs(out - ref).max() < 1e-4


def test_torchaudio_matrices_equal_numpy_ones():
    lin = SpectralFrontend(kind="lfcc", **FRAMING[16000], n_filter=20, n_coeff=20)
    # torchaudio builds its matrices in float32: equal to float32 rounding.
    np.testing.assert_allclose(
        lin.fbank.numpy(), linear_filterbank(sr=16000, n_fft=512, n_filter=20), atol=1e-5
    )
    np.testing.assert_allclose(lin.dct.numpy(), dct_matrix(20, 20), atol=1e-5)
    mel = SpectralFrontend(kind="mfcc", **FRAMING[8000], n_filter=40, n_coeff=13, fmin=20.0)
    ref = mel_filterbank(sr=8000, n_fft=256, n_mels=40, fmin=20.0)
    np.testing.assert_allclose(mel.fbank.numpy(), ref, rtol=0, atol=1e-5 * ref.max())
    np.testing.assert_allclose(mel.dct.numpy(), dct_matrix(13, 40), atol=1e-5)


def test_delta_equals_torchaudio_compute_deltas_and_numpy():
    x = torch.randn(2, 7, 50, dtype=torch.float64)
    expected = torchaudio.functional.compute_deltas(x, win_length=3)
    torch.testing.assert_close(delta(x), expected)
    np.testing.assert_allclose(delta(x).numpy(), np_delta(x.numpy()), atol=1e-12)
    assert torch.all(delta(torch.ones(1, 3, 9)) == 0)


def test_batch_rows_are_independent_and_short_inputs_work():
    module = build_frontend(FeatureConfig(**FRAMING[8000]))
    y = speech(8000)[:4000]
    batch = torch.from_numpy(np.stack([y, 0.5 * y, np.zeros_like(y)]))
    with torch.no_grad():
        out = module(batch).numpy()
        tiny = module(torch.full((2, 1), 0.1))
    np.testing.assert_allclose(out[0], run(module, y), atol=1e-5)
    assert out.shape == (3, 60, 51)
    assert tiny.shape == (2, 60, 1) and torch.isfinite(tiny).all()


def test_raw_and_unsupported_kinds():
    raw = build_frontend(FeatureConfig(kind="raw"))
    x = torch.randn(2, 100)
    torch.testing.assert_close(raw(x), x[:, None, :])
    with pytest.raises(ParameterError, match="kind"):
        build_frontend(FeatureConfig(kind="cqcc"))
    with pytest.raises(ParameterError, match="n_fft"):
        build_frontend(FeatureConfig(n_fft=511, win_length=320))
    with pytest.raises(ParameterError, match="n_coeff"):
        build_frontend(FeatureConfig(n_filter=10, n_coeff=20))
    with pytest.raises(ParameterError, match="waveform"):
        build_frontend(FeatureConfig())(torch.zeros(100))


@pytest.mark.slow
def test_onnx_export_with_dynamic_length(tmp_path):
    # LFCC exercises every op of the other kinds (conv STFT, filter bank, log, DCT,
    # deltas); one export keeps the test to a few seconds.
    pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    module = build_frontend(FeatureConfig(kind="lfcc", **FRAMING[16000]))
    example = torch.zeros(2, 16000)
    dims = {0: torch.export.Dim("batch"), 1: torch.export.Dim("n_samples")}
    program = torch.onnx.export(
        module,
        (example,),
        dynamo=True,
        dynamic_shapes=(dims,),
        input_names=["waveform"],
        output_names=["features"],
    )
    path = tmp_path / "lfcc.onnx"
    program.save(str(path))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    y = speech(16000)
    for length in (24000, 40321):
        batch = np.stack([y[:length], y[1000 : 1000 + length]])
        got = session.run(None, {"waveform": batch})[0]
        with torch.no_grad():
            want = module(torch.from_numpy(batch)).numpy()
        assert got.shape == want.shape == (2, module.n_features, 1 + length // 160)
        assert np.abs(got - want).max() < 1e-4
