"""CQCC (Todisco, Delgado, Evans 2016/2017)."""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf

from audio_detect.exceptions import AudioTooShortError, ParameterError
from audio_detect.features import cqcc
from audio_detect.features.cqcc import CQCC_FMIN, cqt_bins, uniform_resampling_matrix

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"


def speech(sr: int) -> np.ndarray:
    name = "bonafide_lj001-0001.flac" if sr == 16000 else "bonafide_8k_hts1a.flac"
    y, file_sr = sf.read(AUDIO / name, dtype="float32")
    assert file_sr == sr
    return y


@pytest.fixture(scope="module")
def speech16() -> np.ndarray:
    return speech(16000)[16000:48000]  # 2 s keeps the CQT quick


@pytest.mark.parametrize("sr", [8000, 16000])
def test_cqcc_shape_and_dtype(sr):
    y = speech(sr)[: 2 * sr]
    out = cqcc(y=y, sr=sr)
    assert out.dtype == np.float32
    assert out.shape == (60, 1 + len(y) // (sr // 100))
    assert np.all(np.isfinite(out))
    static = cqcc(y=y, sr=sr, deltas=False, n_cqcc=13)
    assert static.shape == (13, out.shape[1])
    np.testing.assert_allclose(static, out[:13], rtol=1e-5, atol=1e-3)


def test_cqt_bins_cover_nine_octaves_at_16k_and_eight_at_8k():
    assert cqt_bins(sr=16000, fmin=CQCC_FMIN, fmax=8000.0, bins_per_octave=48) == 9 * 48
    assert cqt_bins(sr=8000, fmin=CQCC_FMIN, fmax=4000.0, bins_per_octave=48) == 8 * 48
    # The chosen count is accepted by librosa, one more bin is not.
    y = np.zeros(40000)
    librosa.cqt(y, sr=8000, fmin=CQCC_FMIN, n_bins=384, bins_per_octave=48, hop_length=80)
    with pytest.raises(librosa.util.exceptions.ParameterError):
        librosa.cqt(y, sr=8000, fmin=CQCC_FMIN, n_bins=385, bins_per_octave=48, hop_length=80)


def test_uniform_resampling_is_linear_interpolation_on_uniform_grid():
    freqs = librosa.cqt_frequencies(n_bins=96, fmin=20.0, bins_per_octave=24)
    mat = uniform_resampling_matrix(freqs, 16)
    np.testing.assert_allclose(mat.sum(axis=1), 1.0)
    assert mat.min() >= 0.0
    grid = mat @ freqs  # interpolating f itself returns the uniform grid
    np.testing.assert_allclose(np.diff(grid), 20.0 / 16)
    assert grid[0] == pytest.approx(20.0) and grid[-1] <= freqs[-1]
    # First octave [20, 40) holds d = 16 uniform samples.
    assert np.sum(grid < 40.0 - 1e-9) == 16
    # A spectrum linear in frequency is reproduced exactly.
    np.testing.assert_allclose(mat @ (3.0 * freqs + 1.0), 3.0 * grid + 1.0)


def test_cqcc_c0_tracks_log_energy(speech16):
    # Faint noise keeps nearly every CQT bin above the 1e-10 log floor (LJSpeech has
    # almost no energy below 20 Hz); floored bins do not move when the input is scaled.
    noise = 1e-3 * np.random.default_rng(0).standard_normal(speech16.shape)
    y = speech16 + noise.astype(np.float32)
    base = cqcc(y=y, sr=16000).astype(np.float64)
    louder = cqcc(y=2.0 * y, sr=16000).astype(np.float64)
    n_uniform = uniform_resampling_matrix(
        librosa.cqt_frequencies(n_bins=432, fmin=CQCC_FMIN, bins_per_octave=48), 16
    ).shape[0]
    # The CQT is linear: power x4 adds ln 4 everywhere, i.e. sqrt(N) ln 4 to c0 only.
    expected = np.sqrt(n_uniform) * np.log(4.0)
    shift = louder[0] - base[0]
    exact = np.abs(shift - expected) < 1e-4 * expected
    # A few frames keep an exponentially rare near-zero noise bin on the floor.
    assert exact.mean() > 0.97
    assert np.all((shift > 0.98 * expected) & (shift < expected * (1 + 1e-4)))
    np.testing.assert_allclose(louder[1:20, exact], base[1:20, exact], atol=5e-3)


def test_cqcc_deterministic(speech16):
    assert np.array_equal(cqcc(y=speech16, sr=16000), cqcc(y=speech16, sr=16000))


def test_cqcc_distinguishes_tone_frequency():
    sr = 16000
    t = np.arange(sr) / sr
    low = cqcc(y=np.sin(2 * np.pi * 200 * t), sr=sr, deltas=False)[:, 20:-20]
    high = cqcc(y=np.sin(2 * np.pi * 3000 * t), sr=sr, deltas=False)[:, 20:-20]
    assert np.abs(low.mean(axis=1) - high.mean(axis=1)).max() > 10.0
    # A stationary tone gives (nearly) constant coefficients, so near-zero deltas.
    full = cqcc(y=np.sin(2 * np.pi * 200 * t), sr=sr)[:, 40:-40]
    assert np.abs(full[20:]).max() < 0.05 * np.abs(full[:20]).max()


@pytest.mark.parametrize("n", [1, 5, 100, 1000])
def test_cqcc_short_input(n):
    out = cqcc(y=speech(8000)[4000 : 4000 + n], sr=8000)
    assert out.shape == (60, 1 + n // 80)
    assert np.all(np.isfinite(out))


def test_cqcc_empty_and_nonfinite():
    with pytest.raises(AudioTooShortError):
        cqcc(y=np.zeros(0), sr=16000)
    with pytest.raises(ParameterError):
        cqcc(y=np.array([0.0, np.inf, 0.0]), sr=16000)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"fmin": 0.0}, "fmin"),
        ({"fmin": 5000.0, "fmax": 4000.0}, "fmin"),
        ({"fmax": 10000.0}, "fmax"),
        ({"bins_per_octave": 0}, "bins_per_octave"),
        ({"n_cqcc": 0}, "n_cqcc"),
        ({"n_cqcc": 10**6}, "n_cqcc"),
        ({"hop_length": -160}, "hop_length"),
        ({"d": 0}, "'d'"),
    ],
)
def test_cqcc_bad_parameters(kwargs, name):
    with pytest.raises(ParameterError, match=name):
        cqcc(y=np.zeros(1600), sr=16000, **kwargs)
