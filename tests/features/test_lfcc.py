"""LFCC (ASVspoof 2019 LFCC-GMM baseline recipe)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.fft
import scipy.signal
import soundfile as sf

from audio_detect.exceptions import AudioTooShortError, ParameterError
from audio_detect.features import lfcc

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"


def speech(sr: int) -> np.ndarray:
    name = "bonafide_lj001-0001.flac" if sr == 16000 else "bonafide_8k_hts1a.flac"
    y, file_sr = sf.read(AUDIO / name, dtype="float32")
    assert file_sr == sr
    return y


def reference_lfcc(y: np.ndarray, sr: int, n_fft: int) -> np.ndarray:
    """Loop-by-loop transcription of lfcc_bp.m with centred librosa framing."""
    win, hop = sr // 50, sr // 100
    x = np.pad(y.astype(np.float64), (n_fft // 2, n_fft // 2))
    n_frames = 1 + (len(x) - n_fft) // hop
    w = scipy.signal.get_window("hamming", win, fftbins=True)
    off = (n_fft - win) // 2
    f = (sr / 2) * np.linspace(0, 1, n_fft // 2 + 1)
    edges = np.linspace(0, sr / 2, 22)
    bank = np.zeros((n_fft // 2 + 1, 20))
    for i in range(20):  # MATLAB trimf(f, [a b c])
        a, b, c = edges[i : i + 3]
        bank[:, i] = np.clip(np.minimum((f - a) / (b - a), (c - f) / (c - b)), 0, None)
    stat = np.zeros((n_frames, 20))
    for t in range(n_frames):
        seg = x[t * hop + off : t * hop + off + win] * w
        p = np.abs(np.fft.fft(seg, n_fft))[: n_fft // 2 + 1] ** 2
        stat[t] = scipy.fft.dct(np.log(np.maximum(p @ bank, 1e-10)), norm="ortho")[:20]

    def deltas(c):  # Deltas(c', 1)'
        cc = np.vstack([c[:1], c, c[-1:]])
        return (cc[2:] - cc[:-2]) / 2

    d = deltas(stat)
    return np.hstack([stat, d, deltas(d)]).T


@pytest.mark.parametrize(("sr", "n_fft"), [(16000, 512), (8000, 256), (8000, 512)])
def test_lfcc_shape_dtype_and_reference(sr, n_fft):
    y = speech(sr)
    out = lfcc(y=y, sr=sr, n_fft=n_fft)
    assert out.dtype == np.float32
    assert out.shape == (60, 1 + len(y) // (sr // 100))
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, reference_lfcc(y, sr, n_fft), rtol=1e-4, atol=1e-4)


def test_lfcc_without_deltas_and_fewer_coefficients():
    y = speech(16000)
    full = lfcc(y=y, sr=16000)
    static = lfcc(y=y, sr=16000, deltas=False, n_lfcc=13)
    assert static.shape == (13, full.shape[1])
    np.testing.assert_allclose(static, full[:13], rtol=1e-6, atol=1e-5)


def test_lfcc_c0_tracks_log_energy():
    y = speech(16000)
    base = lfcc(y=y, sr=16000).astype(np.float64)
    louder = lfcc(y=2.0 * y, sr=16000).astype(np.float64)
    # Power x4 adds ln 4 to each of the 20 log filter energies; with the orthonormal
    # DCT-II only c0 moves, by sqrt(20) * ln 4; deltas are unchanged.
    np.testing.assert_allclose(louder[0] - base[0], np.sqrt(20) * np.log(4.0), atol=2e-4)
    np.testing.assert_allclose(louder[1:20], base[1:20], atol=2e-4)
    np.testing.assert_allclose(louder[20:], base[20:], atol=2e-4)
    # Within one file, frames with more energy have a higher c0.
    frame_energy = np.array(
        [np.sum(y[max(0, t * 160 - 160) : t * 160 + 160] ** 2) for t in range(base.shape[1])]
    )
    loud = frame_energy > np.quantile(frame_energy, 0.9)
    quiet = frame_energy < np.quantile(frame_energy, 0.1)
    assert base[0, loud].min() > base[0, quiet].max()


def test_lfcc_constant_spectrum_has_zero_deltas():
    # A stationary tone: every frame away from the edges has the same spectrum.
    sr = 16000
    t = np.arange(sr) / sr
    y = (0.3 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    out = lfcc(y=y, sr=sr)
    inner = out[:, 4:-4]
    assert np.abs(inner[20:]).max() < 1e-3
    assert np.ptp(inner[:20], axis=1).max() < 1e-2


def test_lfcc_deterministic_and_float64_input():
    y = speech(8000)
    a = lfcc(y=y, sr=8000, n_fft=256)
    b = lfcc(y=y.astype(np.float64), sr=8000, n_fft=256)
    c = lfcc(y=y, sr=8000, n_fft=256)
    assert np.array_equal(a, c)
    np.testing.assert_allclose(a, b, atol=1e-4)


@pytest.mark.parametrize("n", [1, 10, 159, 320, 600])
def test_lfcc_short_input_is_padded(n):
    y = speech(16000)[8000 : 8000 + n]
    out = lfcc(y=y, sr=16000)
    assert out.shape == (60, 1 + n // 160)
    assert np.all(np.isfinite(out))


def test_lfcc_empty_and_nonfinite_input():
    with pytest.raises(AudioTooShortError):
        lfcc(y=np.zeros(0, dtype=np.float32), sr=16000)
    bad = speech(16000)[:1000].copy()
    bad[10] = np.nan
    with pytest.raises(ParameterError, match="'y'"):
        lfcc(y=bad, sr=16000)


def test_lfcc_digital_silence_is_floored_not_nan():
    out = lfcc(y=np.zeros(1600, dtype=np.float32), sr=16000)
    np.testing.assert_allclose(out[0], np.sqrt(20) * np.log(1e-10), rtol=1e-6)
    assert np.all(out[1:] == pytest.approx(0.0, abs=1e-4))


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_lfcc": 30}, "n_lfcc"),
        ({"n_filter": 0}, "n_filter"),
        ({"win_length": 600}, "win_length"),
        ({"hop_length": 0}, "hop_length"),
        ({"fmax": 9000.0}, "fmax"),
        ({"fmin": -1.0}, "fmin"),
        ({"sr": 0}, "sr"),
        ({"window": "no-such-window"}, "window"),
    ],
)
def test_lfcc_bad_parameters(kwargs, name):
    params = {"y": speech(16000)[:1600], "sr": 16000, **kwargs}
    with pytest.raises(ParameterError, match=name):
        lfcc(**params)
