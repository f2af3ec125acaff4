"""MFCC, log-mel and log-linear spectrogram against librosa."""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf

from audio_detect.exceptions import AudioTooShortError, ParameterError
from audio_detect.features import linear_spectrogram, logmel, mfcc

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"


def speech(sr: int) -> np.ndarray:
    name = "bonafide_lj001-0001.flac" if sr == 16000 else "bonafide_8k_hts1a.flac"
    y, file_sr = sf.read(AUDIO / name, dtype="float32")
    assert file_sr == sr
    return y


def librosa_mel_power(y, sr, n_fft, n_mels, fmin=0.0, fmax=None):
    return librosa.feature.melspectrogram(
        y=y.astype(np.float64),
        sr=sr,
        n_fft=n_fft,
        hop_length=sr // 100,
        win_length=sr // 50,
        window="hamming",
        center=True,
        pad_mode="constant",
        power=2.0,
        n_mels=n_mels,
        fmin=fmin,
        fmax=fmax,
    )


@pytest.mark.parametrize(("sr", "n_fft"), [(16000, 512), (8000, 256)])
def test_logmel_matches_librosa_melspectrogram(sr, n_fft):
    y = speech(sr)
    out = logmel(y=y, sr=sr, n_fft=n_fft, n_mels=40)
    ref = np.log(np.maximum(librosa_mel_power(y, sr, n_fft, 40), 1e-10))
    assert out.dtype == np.float32
    assert out.shape == (40, 1 + len(y) // (sr // 100))
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-4)


def test_logmel_default_80_bands_with_deltas():
    y = speech(16000)
    out = logmel(y=y, sr=16000, deltas=True)
    assert out.shape == (240, 1 + len(y) // 160)
    np.testing.assert_allclose(out[:80], logmel(y=y, sr=16000), atol=1e-5)


@pytest.mark.parametrize(("sr", "n_fft"), [(16000, 512), (8000, 256)])
def test_mfcc_is_librosa_mfcc_in_natural_log_units(sr, n_fft):
    y = speech(sr)
    out = mfcc(y=y, sr=sr, n_fft=n_fft, n_mfcc=20, n_mels=40, fmin=20.0)
    db = librosa.power_to_db(librosa_mel_power(y, sr, n_fft, 40, fmin=20.0), top_db=None)
    ref = librosa.feature.mfcc(S=db, n_mfcc=20, dct_type=2, norm="ortho")
    # librosa works in dB = 10 log10, i.e. 10 / ln 10 times our natural log.
    np.testing.assert_allclose(out * (10 / np.log(10)), ref, rtol=1e-4, atol=1e-3)
    assert mfcc(y=y, sr=sr, n_fft=n_fft, deltas=True).shape == (60, out.shape[1])


@pytest.mark.parametrize(("sr", "n_fft"), [(16000, 512), (8000, 256)])
def test_linear_spectrogram_matches_librosa_stft(sr, n_fft):
    y = speech(sr)
    out = linear_spectrogram(y=y, sr=sr, n_fft=n_fft)
    stft = librosa.stft(
        y.astype(np.float64),
        n_fft=n_fft,
        hop_length=sr // 100,
        win_length=sr // 50,
        window="hamming",
        center=True,
        pad_mode="constant",
    )
    ref = np.log(np.maximum(np.abs(stft) ** 2, 1e-10))
    assert out.shape == (n_fft // 2 + 1, 1 + len(y) // (sr // 100))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-4)
    assert linear_spectrogram(y=y, sr=sr, n_fft=n_fft, deltas=True).shape[0] == 3 * ref.shape[0]


def test_scaling_shifts_log_spectra_by_constant():
    y = speech(8000)
    base = linear_spectrogram(y=y, sr=8000, n_fft=256).astype(np.float64)
    loud = linear_spectrogram(y=2 * y, sr=8000, n_fft=256).astype(np.float64)
    above = base > np.log(1e-8)
    np.testing.assert_allclose((loud - base)[above], np.log(4.0), atol=1e-4)
    m0 = logmel(y=y, sr=8000, n_fft=256, n_mels=40).astype(np.float64)
    m1 = logmel(y=2 * y, sr=8000, n_fft=256, n_mels=40).astype(np.float64)
    above = m0 > np.log(1e-8)
    np.testing.assert_allclose((m1 - m0)[above], np.log(4.0), atol=1e-4)


@pytest.mark.parametrize("func", [mfcc, logmel, linear_spectrogram])
def test_short_empty_and_bad_input(func):
    assert func(y=np.full(5, 0.1, dtype=np.float32), sr=16000).shape[1] == 1
    assert func(y=speech(16000)[:321], sr=16000).shape[1] == 3
    with pytest.raises(AudioTooShortError):
        func(y=np.zeros(0, dtype=np.float32), sr=16000)
    with pytest.raises(ParameterError, match="'y'"):
        func(y=np.array([0.1, np.nan], dtype=np.float32), sr=16000)
    with pytest.raises(ParameterError, match="win_length"):
        func(y=np.zeros(100, dtype=np.float32), sr=16000, n_fft=256)


@pytest.mark.parametrize(
    ("func", "kwargs", "name"),
    [
        (mfcc, {"n_mfcc": 41}, "n_mfcc"),
        (mfcc, {"n_mels": 0}, "n_mels"),
        (logmel, {"fmax": 8001.0}, "fmax"),
        (logmel, {"fmin": 8000.0}, "fmin"),
        (linear_spectrogram, {"hop_length": 1.5}, "hop_length"),
    ],
)
def test_bad_parameters(func, kwargs, name):
    with pytest.raises(ParameterError, match=name):
        func(y=np.zeros(1600, dtype=np.float32), sr=16000, **kwargs)


def test_deterministic():
    y = speech(16000)
    for func in (mfcc, logmel, linear_spectrogram):
        assert np.array_equal(func(y=y, sr=16000), func(y=y, sr=16000))
