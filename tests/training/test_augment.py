"""Augmentation: length, dtype, finiteness, seeding."""

from __future__ import annotations

import numpy as np
import pytest

from audio_detect.training.augment import (
    Augmenter,
    bandlimit,
    random_eq,
    random_gain,
    rawboost_coloured_noise,
    rawboost_impulsive,
    rawboost_linear_nonlinear,
    speed_perturb,
)
from audio_detect.training.config import AugmentConfig

SR = 16000


@pytest.fixture
def y() -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(SR) / SR
    sig = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    return (sig + 0.01 * rng.standard_normal(SR)).astype(np.float32)


@pytest.mark.parametrize(
    "fn",
    [
        lambda y, rng: rawboost_linear_nonlinear(y, sr=SR, rng=rng),
        lambda y, rng: rawboost_impulsive(y, rng=rng),
        lambda y, rng: rawboost_coloured_noise(y, sr=SR, rng=rng),
        lambda y, rng: bandlimit(y, sr=SR, cutoff_hz=3400, low_hz=300),
        lambda y, rng: random_gain(y, rng=rng, gain_db=(-20, 6)),
        lambda y, rng: random_eq(y * 2, sr=SR, rng=rng, max_db=12.0),
    ],
)
def test_transforms_keep_length_and_are_seeded(fn, y: np.ndarray) -> None:
    a = fn(y, np.random.default_rng(1))
    b = fn(y, np.random.default_rng(1))
    assert a.shape == y.shape
    assert a.dtype == np.float32
    assert np.all(np.isfinite(a))
    assert np.max(np.abs(a)) <= 1.0 + 1e-6
    np.testing.assert_array_equal(a, b)


def test_bandlimit_removes_high_band(y: np.ndarray) -> None:
    noise = np.random.default_rng(0).standard_normal(SR).astype(np.float32) * 0.1
    out = bandlimit(noise, sr=SR, cutoff_hz=3400)
    spec = np.abs(np.fft.rfft(out))
    freqs = np.fft.rfftfreq(SR, 1 / SR)
    assert spec[freqs > 5000].mean() < 0.01 * spec[freqs < 3000].mean()


def test_random_eq_colours_the_spectrum_within_its_range() -> None:
    """Long-term spectrum changes by at most about ``max_db`` per band stage (4 stages),
    differs between draws, and is the identity at 0 dB."""
    noise = np.random.default_rng(0).standard_normal(4 * SR).astype(np.float32) * 0.05
    from scipy import signal

    _, ref = signal.welch(noise, SR, nperseg=1024)
    shapes = []
    for seed in range(3):
        out = random_eq(noise, sr=SR, rng=np.random.default_rng(seed), max_db=6.0)
        _, p = signal.welch(out, SR, nperseg=1024)
        gain = 10 * np.log10(p[4:-4] / ref[4:-4])
        assert np.abs(gain).max() < 4 * 6.0 + 1.0
        assert np.ptp(gain) > 2.0  # it does colour
        shapes.append(gain)
    assert np.abs(shapes[0] - shapes[1]).max() > 1.0
    flat = random_eq(noise, sr=SR, rng=np.random.default_rng(0), max_db=0.0)
    np.testing.assert_allclose(flat, noise, atol=1e-5)


def test_augmenter_applies_eq_only_when_drawn(y: np.ndarray) -> None:
    off = Augmenter(AugmentConfig(p_rawboost=0, p_channel=0, p_bandlimit=0, p_gain=0), sr=SR)
    on = Augmenter(
        AugmentConfig(p_rawboost=0, p_channel=0, p_bandlimit=0, p_gain=0, p_eq=1.0), sr=SR
    )
    np.testing.assert_array_equal(off(y, np.random.default_rng(0)), y)
    assert np.abs(on(y, np.random.default_rng(0)) - y).max() > 1e-3
    with pytest.raises(ValueError, match="eq_db"):
        AugmentConfig(eq_db=40.0)


def test_speed_perturb_changes_length(y: np.ndarray) -> None:
    assert len(speed_perturb(y, factor=1.1)) == pytest.approx(SR / 1.1, abs=2)
    assert len(speed_perturb(y, factor=1.0)) == SR


def test_augmenter_is_reproducible(y: np.ndarray) -> None:
    cfg = AugmentConfig(
        p_rawboost=1.0, p_channel=0.5, channel_conditions=["tel_mulaw"], p_bandlimit=1.0,
        p_gain=1.0, p_speed=1.0,
    )  # fmt: skip
    aug = Augmenter(cfg, sr=SR)
    for seed in range(4):
        a = aug(aug.speed(y, np.random.default_rng(seed)), np.random.default_rng(seed))
        b = aug(aug.speed(y, np.random.default_rng(seed)), np.random.default_rng(seed))
        np.testing.assert_array_equal(a, b)
        assert np.all(np.isfinite(a))


def test_unknown_rawboost_algo_rejected() -> None:
    from audio_detect.exceptions import ParameterError

    with pytest.raises(ParameterError):
        AugmentConfig(rawboost_algos=[4])
