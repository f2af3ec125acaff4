"""Tests of audio_detect.audio.vad on real speech, silence, noise and tones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from audio_detect.audio.io import load_audio, resample
from audio_detect.audio.vad import speech_mask, speech_regions, speech_seconds
from audio_detect.exceptions import ParameterError

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"


@pytest.fixture(scope="module")
def tel8k():
    return load_audio(AUDIO / "bonafide_8k_hts1a.flac")


@pytest.fixture(scope="module")
def lj16k():
    return load_audio(AUDIO / "bonafide_lj001-0001.flac")


def assert_well_formed(regions: np.ndarray, n: int) -> None:
    assert regions.dtype == np.int64 and regions.ndim == 2 and regions.shape[1] == 2
    if len(regions):
        assert regions[0, 0] >= 0 and regions[-1, 1] <= n
        assert np.all(regions[:, 1] > regions[:, 0])
        assert np.all(regions[1:, 0] > regions[:-1, 1])  # sorted, disjoint, not touching


def test_telephone_8k(tel8k):
    regions = speech_regions(tel8k.samples, sr=8000)
    assert_well_formed(regions, tel8k.samples.size)
    assert 1.8 < speech_seconds(regions, sr=8000) <= 3.0


def test_wideband_16k(lj16k):
    regions = speech_regions(lj16k.samples, sr=16000)
    assert_well_formed(regions, lj16k.samples.size)
    assert 7.5 < speech_seconds(regions, sr=16000) <= lj16k.duration


def test_silence_padding_is_not_speech(tel8k):
    sr = 8000
    y = np.concatenate([np.zeros(2 * sr), tel8k.samples, np.zeros(2 * sr)]).astype(np.float32)
    regions = speech_regions(y, sr=sr, pad_ms=90)
    assert_well_formed(regions, y.size)
    assert regions[0, 0] >= 2 * sr - int(0.09 * sr)
    assert regions[-1, 1] <= 2 * sr + tel8k.samples.size + int(0.09 * sr) + 240
    mask = speech_mask(y, sr=sr)
    assert mask.shape == y.shape and mask.dtype == bool
    assert not mask[:sr].any() and not mask[-sr:].any()
    assert mask.sum() == pytest.approx(speech_seconds(regions, sr=sr) * sr)


@pytest.mark.parametrize("sr", [11025, 22050, 44100])
def test_other_rates_map_back(lj16k, sr):
    y = resample(lj16k.samples, orig_sr=16000, target_sr=sr)
    native = speech_seconds(speech_regions(lj16k.samples, sr=16000), sr=16000)
    regions = speech_regions(y, sr=sr)
    assert_well_formed(regions, y.size)
    assert speech_seconds(regions, sr=sr) == pytest.approx(native, abs=0.1)


def test_speech_in_noise(lj16k):
    rng = np.random.default_rng(7)
    y = lj16k.samples.astype(np.float64)
    noise = rng.standard_normal(y.size)
    noise *= np.sqrt(np.mean(y**2) / np.mean(noise**2)) / 10 ** (15 / 20)  # SNR 15 dB
    seconds = speech_seconds(speech_regions((y + noise).astype(np.float32), sr=16000), sr=16000)
    assert seconds > 0.6 * lj16k.duration


def _nonspeech(kind: str, sr: int, seconds: float = 4.0) -> np.ndarray:
    rng = np.random.default_rng(3)
    t = np.arange(int(sr * seconds)) / sr
    if kind == "zeros":
        y = np.zeros_like(t)
    elif kind == "dc":
        y = np.full_like(t, 0.4)
    elif kind == "dc_negative_full_scale":
        y = np.full_like(t, -1.0)
    elif kind == "noise_-65dBFS":
        y = 10 ** (-65 / 20) * rng.standard_normal(t.size)
    elif kind == "noise_-20dBFS":
        y = 0.1 * rng.standard_normal(t.size)
    elif kind == "tone_440":
        y = 0.5 * np.sin(2 * np.pi * 440 * t)
    elif kind == "tone_200_plus_dc":
        y = 0.3 + 0.3 * np.sin(2 * np.pi * 200 * t)
    elif kind == "hum_50":
        y = 0.3 * np.sin(2 * np.pi * 50 * t)
    return y.astype(np.float32)


@pytest.mark.parametrize("sr", [8000, 16000])
@pytest.mark.parametrize("kind", ["zeros", "dc", "dc_negative_full_scale", "noise_-65dBFS"])
def test_silence_dc_and_faint_noise_give_no_speech(kind, sr):
    assert speech_regions(_nonspeech(kind, sr), sr=sr).shape == (0, 2)


@pytest.mark.parametrize("sr", [8000, 16000])
@pytest.mark.parametrize("kind", ["noise_-20dBFS", "tone_440", "tone_200_plus_dc", "hum_50"])
def test_stationary_signals_give_little_speech(kind, sr):
    # Documented behaviour: the relative energy gate rejects signals no louder than their
    # own floor. (Bursts of tone or music over a quiet background may still pass.)
    y = _nonspeech(kind, sr)
    assert speech_seconds(speech_regions(y, sr=sr), sr=sr) < 0.5


def test_smoothing_parameters(lj16k):
    y, sr = lj16k.samples, 16000
    default = speech_regions(y, sr=sr)
    assert len(default) >= 2  # LJ001-0001 has a pause
    merged = speech_regions(y, sr=sr, merge_gap_ms=2000)
    assert len(merged) == 1
    assert merged[0, 0] == default[0, 0] and merged[0, 1] == default[-1, 1]
    assert speech_regions(y, sr=sr, min_speech_ms=60_000).shape == (0, 2)
    bare = speech_regions(y, sr=sr, pad_ms=0, merge_gap_ms=0, min_speech_ms=0)
    assert np.all(bare % (sr * 30 // 1000) == 0)  # frame boundaries at a native rate
    assert speech_seconds(bare, sr=sr) < speech_seconds(default, sr=sr)
    for aggressiveness in range(4):
        assert speech_seconds(speech_regions(y, sr=sr, aggressiveness=aggressiveness), sr=sr) > 5
    for frame_ms in (10, 20):
        assert speech_seconds(speech_regions(y, sr=sr, frame_ms=frame_ms), sr=sr) > 7


def test_padding_is_clipped_to_signal(tel8k):
    regions = speech_regions(tel8k.samples, sr=8000, pad_ms=5000)
    assert regions.tolist() == [[0, tel8k.samples.size]]


def test_short_and_empty_inputs():
    assert speech_regions(np.zeros(0, np.float32), sr=16000).shape == (0, 2)
    assert speech_regions(np.full(100, 0.5, np.float32), sr=16000).shape == (0, 2)
    assert speech_mask(np.zeros(0, np.float32), sr=8000).shape == (0,)


def test_speech_seconds():
    assert speech_seconds(np.zeros((0, 2), np.int64), sr=8000) == 0.0
    assert speech_seconds(np.array([[0, 8000], [16000, 20000]]), sr=8000) == 1.5
    with pytest.raises(ParameterError, match="'regions'"):
        speech_seconds(np.array([1, 2, 3]), sr=8000)
    with pytest.raises(ParameterError, match="'sr'"):
        speech_seconds(np.array([[0, 1]]), sr=0)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"aggressiveness": 4}, "aggressiveness"), ({"frame_ms": 25}, "frame_ms"),
     ({"sr": 500}, "sr"), ({"pad_ms": -1}, "pad_ms"), ({"min_speech_ms": 1.5}, "min_speech_ms")],
)  # fmt: skip
def test_parameter_validation(kwargs, name):
    args = {"sr": 16000, **kwargs}
    with pytest.raises(ParameterError, match=f"'{name}'"):
        speech_regions(np.zeros(1600, np.float32), **args)


@pytest.mark.parametrize(
    "y", [np.zeros((2, 100), np.float32), np.array([0.0, np.nan]), np.zeros(100, np.int16)]
)
def test_bad_signals(y):
    with pytest.raises(ParameterError, match="'y'"):
        speech_regions(y, sr=16000)
