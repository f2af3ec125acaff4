"""compute_features dispatch on FeatureConfig, and the torch-free package import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audio_detect.config import FEATURE_KINDS, FeatureConfig
from audio_detect.exceptions import AudioTooShortError, ParameterError
from audio_detect.features import (
    compute_features,
    cqcc,
    lfcc,
    linear_spectrogram,
    logmel,
    mfcc,
    n_features,
)

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"
CONFIG_8K = {"sr": 8000, "n_fft": 256, "win_length": 160, "hop_length": 80}


@pytest.fixture(scope="module")
def y8() -> np.ndarray:
    y, sr = sf.read(AUDIO / "bonafide_8k_hts1a.flac", dtype="float32")
    assert sr == 8000
    return y[:8000]


@pytest.mark.parametrize("deltas", [True, False])
@pytest.mark.parametrize("kind", FEATURE_KINDS)
def test_every_kind_dispatches_with_declared_shape(kind, deltas, y8):
    config = FeatureConfig(kind=kind, deltas=deltas, **CONFIG_8K)
    out = compute_features(y8, config=config)
    assert out.dtype == np.float32
    assert out.shape[0] == n_features(config)
    expected_frames = len(y8) if kind == "raw" else 1 + len(y8) // 80
    assert out.shape[1] == expected_frames
    assert np.all(np.isfinite(out))
    assert np.array_equal(out, compute_features(y8, config=config))


def test_config_fields_reach_the_feature_functions(y8):
    common = {"y": y8, "sr": 8000, "n_fft": 256, "win_length": 160, "hop_length": 80}
    cfg = FeatureConfig(kind="lfcc", n_filter=30, n_coeff=15, fmin=100.0, fmax=3800.0, **CONFIG_8K)
    np.testing.assert_array_equal(
        compute_features(y8, config=cfg),
        lfcc(**common, n_filter=30, n_lfcc=15, fmin=100.0, fmax=3800.0),
    )
    cfg = FeatureConfig(kind="mfcc", n_filter=40, n_coeff=13, deltas=False, **CONFIG_8K)
    np.testing.assert_array_equal(
        compute_features(y8, config=cfg), mfcc(**common, n_mels=40, n_mfcc=13, deltas=False)
    )
    cfg = FeatureConfig(kind="logmel", n_filter=64, deltas=False, **CONFIG_8K)
    out = compute_features(y8, config=cfg)
    assert out.shape[0] == 64
    np.testing.assert_array_equal(out, logmel(**common, n_mels=64))
    cfg = FeatureConfig(kind="linear", deltas=False, **CONFIG_8K)
    np.testing.assert_array_equal(compute_features(y8, config=cfg), linear_spectrogram(**common))
    cfg = FeatureConfig(kind="cqcc", n_coeff=12, **CONFIG_8K)
    np.testing.assert_array_equal(
        compute_features(y8, config=cfg), cqcc(y=y8, sr=8000, hop_length=80, n_cqcc=12)
    )
    cfg = FeatureConfig(kind="raw", **CONFIG_8K)
    np.testing.assert_array_equal(compute_features(y8, config=cfg), y8[None, :])


def test_default_config_is_the_asvspoof_lfcc(y8):
    config = FeatureConfig()
    assert (config.kind, config.n_fft, config.win_length, config.hop_length) == (
        "lfcc",
        512,
        320,
        160,
    )
    y16 = np.repeat(y8, 2)  # any 16 kHz signal
    np.testing.assert_array_equal(compute_features(y16, config=config), lfcc(y=y16, sr=16000))
    assert n_features(config) == 60


@pytest.mark.parametrize("kind", FEATURE_KINDS)
def test_short_and_empty_inputs(kind):
    config = FeatureConfig(kind=kind, **CONFIG_8K)
    one = compute_features(np.array([0.25], dtype=np.float32), config=config)
    assert one.shape == (n_features(config), 1)
    with pytest.raises(AudioTooShortError):
        compute_features(np.zeros(0, dtype=np.float32), config=config)


@pytest.mark.parametrize("kind", FEATURE_KINDS)
@pytest.mark.parametrize(
    "bad",
    [
        np.array([0.0, np.nan, 0.0], dtype=np.float32),
        np.array([0.0, -np.inf], dtype=np.float64),
        np.zeros(100, dtype=np.int16),
        np.zeros((2, 100), dtype=np.float32),
    ],
)
def test_bad_input_raises_parameter_error(kind, bad):
    with pytest.raises(ParameterError):
        compute_features(bad, config=FeatureConfig(kind=kind, **CONFIG_8K))


def test_bad_config_raises(y8):
    with pytest.raises(ParameterError, match="config"):
        compute_features(y8, config={"kind": "lfcc"})
    with pytest.raises(ParameterError, match="n_lfcc"):
        compute_features(y8, config=FeatureConfig(n_filter=10, n_coeff=20, **CONFIG_8K))
    with pytest.raises(ParameterError, match="fmax"):
        compute_features(y8, config=FeatureConfig(fmax=6000.0, **CONFIG_8K))


def test_package_imports_without_torch():
    code = (
        "import sys; import audio_detect.features as f; from audio_detect.features import *; "
        "assert 'torch' not in sys.modules, 'torch imported'; print(len(f.__all__))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
