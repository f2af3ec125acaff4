"""Tests of the torch Whisper front end and encoder (audio_detect.features.whisper_torch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("librosa")

from audio_detect.audio.io import load_audio, resample  # noqa: E402
from audio_detect.exceptions import ParameterError  # noqa: E402
from audio_detect.features import pretrained as P  # noqa: E402, N812
from audio_detect.features.whisper_torch import (  # noqa: E402
    WhisperEncoderModule,
    WhisperLogMel,
)

from .test_pretrained import _fake_encoder, _write_ct2  # noqa: E402

pytestmark = pytest.mark.torch


@pytest.fixture
def fake_weights(tmp_path: Path) -> P.WhisperEncoderWeights:
    path = tmp_path / "model.bin"
    _write_ct2(path, _fake_encoder())
    return P.load_whisper_encoder_weights("fake", paths=[path])


def _speech(fixture_audio: dict[str, Path], sr: int) -> np.ndarray:
    return load_audio(fixture_audio["bonafide_lj001-0001"], sr=sr).samples.astype(np.float32)


def test_16k_front_end_matches_numpy_whisper_mel(fixture_audio: dict[str, Path]) -> None:
    y = _speech(fixture_audio, 16000)[:48000]
    ref = P.log_mel_spectrogram(y)
    got = WhisperLogMel(sample_rate=16000)(torch.from_numpy(y)[None]).numpy()[0]
    assert got.shape == ref.shape == (80, 300)
    np.testing.assert_allclose(got, ref, atol=2e-4)


def test_8k_front_end_equals_16k_analysis_of_upsampled_telephone_audio(
    fixture_audio: dict[str, Path],
) -> None:
    """The 8 kHz analysis is the 16 kHz Whisper mel of the same signal upsampled."""
    y8 = _speech(fixture_audio, 8000)[:24000]
    mel8 = WhisperLogMel(sample_rate=8000)(torch.from_numpy(y8)[None]).numpy()[0]
    y16 = resample(y8, orig_sr=8000, target_sr=16000)
    mel16 = P.log_mel_spectrogram(y16)
    assert mel8.shape == mel16.shape == (80, 300)
    # Bands below 3.8 kHz (58 of 80) carry the signal; the resampler's transition
    # band and the first/last frames make the rest differ slightly.
    diff = np.abs(mel8 - mel16)[:58, 1:-1]
    assert float(diff.mean()) < 1e-3
    assert float(np.percentile(diff, 99)) < 2e-2


def test_band_limited_front_end_ignores_out_of_band_energy(
    fixture_audio: dict[str, Path],
) -> None:
    """With ``band_hz`` the mel bands inside the band do not see a hum below it or a
    tone above it, and bands wholly outside sit at the floor; without it they do."""
    y = _speech(fixture_audio, 8000)[:24000]
    t = np.arange(len(y)) / 8000
    peak = float(np.abs(y).max())
    nuisance = (0.5 * peak * (np.sin(2 * np.pi * 100 * t) + np.sin(2 * np.pi * 3800 * t))).astype(
        np.float32
    )
    band = WhisperLogMel(sample_rate=8000, band_hz=(300.0, 3400.0))
    full = WhisperLogMel(sample_rate=8000)
    clean_b, dirty_b = (band(torch.from_numpy(x)[None]).numpy()[0] for x in (y, y + nuisance))
    clean_f, dirty_f = (full(torch.from_numpy(x)[None]).numpy()[0] for x in (y, y + nuisance))
    inner = slice(12, 50)  # mel bands well inside 300-3400 Hz
    assert np.abs(dirty_b - clean_b)[inner].mean() < 0.02
    assert np.abs(dirty_f - clean_f).max() > 0.5
    assert np.ptp(clean_b[:2]) == 0.0  # the lowest bands (< 100 Hz) are the floor
    assert np.ptp(clean_b[-10:]) == 0.0  # and everything above 4 kHz


def test_band_limits_are_checked() -> None:
    for band in [(3400.0, 300.0), (300.0, 5000.0), (-1.0, 3400.0)]:
        with pytest.raises(ParameterError, match="band_hz"):
            WhisperLogMel(sample_rate=8000, band_hz=band)


def test_front_end_rejects_other_rates() -> None:
    with pytest.raises(ParameterError):
        WhisperLogMel(sample_rate=22050)


def test_encoder_module_matches_numpy_encoder(fake_weights: P.WhisperEncoderWeights) -> None:
    rng = np.random.default_rng(3)
    y = (0.1 * rng.standard_normal(16000)).astype(np.float32)
    enc = P.WhisperEncoder("fake", backend="numpy", weights=fake_weights)
    ref = enc.hidden_states(y)
    mel = torch.from_numpy(P.log_mel_spectrogram(y))[None]
    with torch.no_grad():
        full = WhisperEncoderModule(fake_weights)(mel).numpy()[:, 0]
        first = WhisperEncoderModule(fake_weights, n_blocks=1)(mel).numpy()[:, 0]
    np.testing.assert_allclose(full, ref, atol=1e-4)
    # Truncated: stem + first block only, no final layer norm.
    assert first.shape == (2, *ref.shape[1:])
    np.testing.assert_allclose(first, ref[:2], atol=1e-4)
    with pytest.raises(ParameterError):
        WhisperEncoderModule(fake_weights, n_blocks=3)
