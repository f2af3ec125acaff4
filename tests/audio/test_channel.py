"""Tests of the seeded channel simulation."""

from __future__ import annotations

import numpy as np
import pytest

from audio_detect.audio.channel import (
    CHANNEL_CONDITIONS,
    ChannelSpec,
    apply_channel,
    resolve_condition,
)
from audio_detect.exceptions import ParameterError

SR = 16000


@pytest.fixture(scope="module")
def speechlike() -> np.ndarray:
    """Two seconds of a harmonic signal with a syllabic envelope and broadband noise."""
    rng = np.random.default_rng(0)
    t = np.arange(2 * SR) / SR
    f0 = 120 + 20 * np.sin(2 * np.pi * 3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    y = sum(np.sin(k * phase) / k for k in range(1, 40))
    y = y * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2) + 0.05 * rng.standard_normal(len(t))
    return (0.3 * y / np.max(np.abs(y))).astype(np.float32)


def _band_energy(y: np.ndarray, lo: float, hi: float) -> float:
    spec = np.abs(np.fft.rfft(y)) ** 2
    f = np.fft.rfftfreq(len(y), 1 / SR)
    return float(spec[(f >= lo) & (f < hi)].sum() / spec.sum())


def _conditions() -> list:
    """Every registered condition; GSM needs sox, the others skip if PyAV lacks a codec."""
    params = []
    for name, spec in CHANNEL_CONDITIONS.items():
        if "gsm" in spec.stages:
            marks = [pytest.mark.requires("sox")]
        elif spec.missing():
            marks = [pytest.mark.skip(reason=f"needs {'; '.join(spec.missing())}")]
        else:
            marks = []
        params.append(pytest.param(name, marks=marks))
    return params


@pytest.mark.parametrize("name", _conditions())
def test_every_condition_keeps_rate_length_and_is_deterministic(name, speechlike):
    a = apply_channel(speechlike, sr=SR, condition=name, seed=7)
    b = apply_channel(speechlike, sr=SR, condition=name, seed=7)
    assert a.dtype == np.float32
    assert a.shape == speechlike.shape
    assert np.array_equal(a, b)
    assert np.all(np.abs(a) <= 1.0)
    assert np.sqrt(np.mean(a**2)) > 0.01


def test_seed_changes_random_stages(speechlike):
    a = apply_channel(speechlike, sr=SR, condition="noise_snr10", seed=1)
    b = apply_channel(speechlike, sr=SR, condition="noise_snr10", seed=2)
    assert not np.allclose(a, b)


def test_bandlimit_removes_high_band(speechlike):
    assert _band_energy(speechlike, 4200, 8000) > 1e-3
    out = apply_channel(speechlike, sr=SR, condition="bandlimit_8k", seed=0)
    assert _band_energy(out, 4200, 8000) < 1e-5
    assert _band_energy(out, 0, 100) < 0.01


def test_g711_is_close_to_input_and_aligned(speechlike):
    x8 = apply_channel(speechlike, sr=SR, condition="bandlimit_8k", seed=0)
    out = apply_channel(x8, sr=SR, condition="g711_mulaw", seed=0)
    err = np.sqrt(np.mean((out - x8) ** 2)) / np.sqrt(np.mean(x8**2))
    assert err < 0.1


@pytest.mark.parametrize("snr", [20, 10, 5])
def test_noise_snr_is_roughly_as_named(snr, speechlike):
    out = apply_channel(speechlike, sr=SR, condition=f"noise_snr{snr}", seed=3)
    noise = out - speechlike
    # SNR is set against the louder half of frames, so the whole-file SNR is a bit lower.
    measured = 10 * np.log10(np.mean(speechlike**2) / np.mean(noise**2))
    assert snr - 4 < measured < snr + 1


def test_packet_loss_replaces_about_five_percent_of_frames(speechlike):
    y = np.tile(speechlike, 10)
    out = apply_channel(y, sr=SR, condition="packet_loss", seed=5)
    hop = SR // 50
    changed = [not np.array_equal(out[i : i + hop], y[i : i + hop]) for i in range(0, len(y), hop)]
    assert 0.02 < np.mean(changed) < 0.09


def test_chain_syntax_and_spec():
    spec = resolve_condition("tel_mulaw+noise_snr20")
    assert spec.stages == ("bandlimit_8k", "g711_mulaw", "noise_snr20")
    assert resolve_condition(CHANNEL_CONDITIONS["tel_gsm"]) is CHANNEL_CONDITIONS["tel_gsm"]
    with pytest.raises(ParameterError, match="condition"):
        resolve_condition("tel_carrier_pigeon")
    with pytest.raises(ParameterError):
        ChannelSpec("bad", ("nope",))


def test_rejects_2d_input():
    with pytest.raises(ParameterError, match="'y'"):
        apply_channel(np.zeros((2, 100)), sr=SR, condition="clean", seed=0)


def test_clean_is_identity(speechlike):
    assert np.array_equal(apply_channel(speechlike, sr=SR, condition="clean", seed=0), speechlike)
