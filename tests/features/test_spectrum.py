"""Shared spectral helpers: framing, filter banks, DCT, deltas."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import scipy.fft

from audio_detect.exceptions import AudioTooShortError, ParameterError
from audio_detect.features.spectrum import (
    append_deltas,
    dct_matrix,
    delta,
    frame_padding,
    iter_power,
    linear_filterbank,
    log_filterbank_energies,
    mel_filterbank,
    n_frames,
    power_spectrogram,
    resolve_band,
    resolve_framing,
    validate_audio,
)

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize(
    ("n_fft", "win_length", "hop_length"), [(512, 320, 160), (256, 160, 80), (512, 400, 128)]
)
def test_power_spectrogram_matches_librosa_stft(n_fft, win_length, hop_length, center):
    y = RNG.standard_normal(4001)
    ours = power_spectrogram(
        y=y, n_fft=n_fft, hop_length=hop_length, win_length=win_length, center=center
    )
    ref = (
        np.abs(
            librosa.stft(
                y,
                n_fft=n_fft,
                hop_length=hop_length,
                win_length=win_length,
                window="hamming",
                center=center,
                pad_mode="constant",
            )
        )
        ** 2
    )
    assert ours.shape == ref.shape
    assert ours.shape[1] == n_frames(4001, n_fft=n_fft, hop_length=hop_length, center=center)
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-9 * ref.max())


@pytest.mark.parametrize(("n_fft", "win_length"), [(512, 320), (256, 160), (512, 512), (9, 4)])
def test_frame_padding_reproduces_centred_frame_count(n_fft, win_length):
    left, right, offset = frame_padding(n_fft, win_length)
    assert left >= 0 and right >= 0
    assert offset == (n_fft - win_length) // 2
    for n in (1, 2, 159, 160, 161, 4000):
        conv_frames = 1 + (n + left + right - win_length) // 160
        assert conv_frames == n_frames(n, n_fft=n_fft, hop_length=160, center=True)


def test_short_input_gives_one_frame_both_centerings():
    y = np.ones(3)
    assert power_spectrogram(y=y, n_fft=512, hop_length=160, win_length=320).shape == (257, 1)
    assert power_spectrogram(
        y=y, n_fft=512, hop_length=160, win_length=320, center=False
    ).shape == (257, 1)


def test_linear_filterbank_is_linear_triangular():
    fb = linear_filterbank(sr=16000, n_fft=512, n_filter=20)
    assert fb.shape == (20, 257)
    freqs = np.arange(257) * 16000 / 512
    centres = np.array([np.sum(row * freqs) / np.sum(row) for row in fb])
    # Symmetric triangles on a linear grid: centroids equally spaced by 8000 / 21 Hz.
    np.testing.assert_allclose(np.diff(centres), 8000 / 21, rtol=0.02)
    # Overlapping triangles (50 %) sum to one between the first and last peak.
    inner = (freqs >= 8000 / 21) & (freqs <= 20 * 8000 / 21)
    np.testing.assert_allclose(fb.sum(axis=0)[inner], 1.0, atol=1e-12)
    assert fb.max() <= 1.0 and fb.min() >= 0.0
    # Each filter is one contiguous bump.
    for row in fb:
        nz = np.flatnonzero(row)
        assert np.all(np.diff(nz) == 1)


def test_linear_filterbank_band_limits():
    fb = linear_filterbank(sr=8000, n_fft=256, n_filter=20, fmin=300.0, fmax=3400.0)
    freqs = np.arange(129) * 8000 / 256
    assert np.all(fb[:, freqs <= 300.0] == 0) and np.all(fb[:, freqs >= 3400.0] == 0)


def test_mel_filterbank_matches_librosa():
    fb = mel_filterbank(sr=16000, n_fft=512, n_mels=40)
    ref = librosa.filters.mel(sr=16000, n_fft=512, n_mels=40, dtype=np.float64)
    np.testing.assert_allclose(fb, ref)


def test_dct_matrix_is_scipy_ortho_dct():
    x = RNG.standard_normal((20, 7))
    np.testing.assert_allclose(
        dct_matrix(20, 20) @ x, scipy.fft.dct(x, type=2, norm="ortho", axis=0), atol=1e-12
    )
    d = dct_matrix(13, 20)
    np.testing.assert_allclose(d @ d.T, np.eye(13), atol=1e-12)


def test_delta_of_constant_is_zero_and_of_ramp_is_slope():
    const = np.full((4, 30), 3.5)
    assert np.all(delta(const) == 0)
    assert np.all(append_deltas(const)[4:] == 0)
    ramp = np.tile(np.arange(30.0) * 0.25, (2, 1))
    d = delta(ramp)
    np.testing.assert_allclose(d[:, 1:-1], 0.25)
    # Edges replicate the outermost frame, as the ASVspoof MATLAB Deltas(x, 1).
    np.testing.assert_allclose(d[:, 0], 0.125)
    np.testing.assert_allclose(d[:, -1], 0.125)
    np.testing.assert_allclose(delta(ramp, width=5)[:, 2:-2], 0.25)


def test_delta_matches_matlab_baseline_formula():
    x = RNG.standard_normal((3, 12))
    # Deltas(x, hlen=1): filter([1 0 -1], 1, [x(:,1) x x(:,end)]) / 2, first 2 dropped.
    xx = np.concatenate([x[:, :1], x, x[:, -1:]], axis=1)
    expected = (xx[:, 2:] - xx[:, :-2]) / 2
    np.testing.assert_allclose(delta(x), expected)
    np.testing.assert_allclose(delta(x, order=2), delta(delta(x)))


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"width": 4}, "width"), ({"width": 1}, "width"), ({"order": 3}, "order")],
)
def test_delta_bad_parameters(kwargs, name):
    with pytest.raises(ParameterError, match=name):
        delta(np.zeros((2, 5)), **kwargs)


@pytest.mark.parametrize(
    ("y", "exc"),
    [
        (np.zeros(0), AudioTooShortError),
        (np.array([0.0, np.nan]), ParameterError),
        (np.array([0.0, np.inf]), ParameterError),
        (np.zeros((2, 10)), ParameterError),
        (np.zeros(10, dtype=np.int16), ParameterError),
        ([0.0, 1.0], ParameterError),
    ],
)
def test_validate_audio_rejects(y, exc):
    with pytest.raises(exc):
        validate_audio(y)


def test_resolve_framing_defaults_and_errors():
    assert resolve_framing(16000, 512, None, None) == (16000, 512, 320, 160)
    assert resolve_framing(8000, 256, None, None) == (8000, 256, 160, 80)
    with pytest.raises(ParameterError, match="win_length"):
        resolve_framing(16000, 256, 320, 160)
    with pytest.raises(ParameterError, match="hop_length"):
        resolve_framing(16000, 512, 320, 0)
    with pytest.raises(ParameterError, match="n_fft"):
        resolve_framing(16000, 512.0, 320, 160)
    with pytest.raises(ParameterError, match="fmax"):
        resolve_band(16000, 0.0, 9000.0)
    with pytest.raises(ParameterError, match="fmin"):
        resolve_band(16000, 5000.0, 4000.0)


def test_block_processing_equals_one_shot():
    y = RNG.standard_normal(16000)
    kwargs = {"y": y, "n_fft": 512, "hop_length": 160, "win_length": 320}
    whole = power_spectrogram(**kwargs)
    blocks = list(iter_power(**kwargs, chunk_frames=7))
    assert [b.shape[1] for b in blocks[:-1]] == [7] * (len(blocks) - 1)
    np.testing.assert_array_equal(np.concatenate(blocks, axis=1), whole)
    fb = linear_filterbank(sr=16000, n_fft=512)
    np.testing.assert_allclose(
        log_filterbank_energies(fbank=fb, **kwargs), np.log(np.maximum(fb @ whole, 1e-10))
    )
