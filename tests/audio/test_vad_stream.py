"""Tests of audio_detect.audio.vad_stream.IncrementalVad (frozen mode's VAD, issue #15)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import webrtcvad

from audio_detect.audio.io import load_audio
from audio_detect.audio.vad import speech_regions
from audio_detect.audio.vad_stream import IncrementalVad
from audio_detect.exceptions import ParameterError

from .conftest import speechlike

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"
STEMS = sorted(p.stem for p in AUDIO.glob("*.flac"))
#: Stated agreement with ``speech_regions`` on the same samples: intersection over union
#: of the speech samples. Only WebRTC's input differs (every frame above the absolute
#: floor, one Vad for the stream); measured on these fixtures: 0.98 to 1.0.
MIN_IOU = 0.95


def _mask(regions: np.ndarray, n: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    for start, end in regions:
        mask[start:end] = True
    return mask


def _iou(a: np.ndarray, b: np.ndarray, n: int) -> float:
    ma, mb = _mask(a, n), _mask(b, n)
    return float((ma & mb).sum()) / max(1, int((ma | mb).sum()))


def _noisy(y: np.ndarray, snr_db: float, seed: int = 7) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(y.size)
    noise *= np.sqrt(np.mean(y.astype(np.float64) ** 2) / np.mean(noise**2)) / 10 ** (snr_db / 20)
    return (y + noise).astype(np.float32)


def _call(seconds: float, sr: int) -> np.ndarray:
    """Speech-like bursts of 0.5-4 s between 0.3-3 s of faint line noise."""
    rng = np.random.default_rng(1)
    parts, n = [], 0
    while n < seconds * sr:
        gap = rng.normal(0, 0.002, int(rng.uniform(0.3, 3.0) * sr)).astype(np.float32)
        burst = speechlike(float(rng.uniform(0.5, 4.0)), sr, seed=int(rng.integers(1000)))
        parts += [gap, burst]
        n += gap.size + burst.size
    return np.concatenate(parts)[: int(seconds * sr)]


def _push_random(vad: IncrementalVad, y: np.ndarray, seed: int, max_chunk: int) -> None:
    rng = np.random.default_rng(seed)
    i = 0
    while i < y.size:
        n = int(rng.integers(1, max_chunk))
        vad.push(y[i : i + n])
        vad.regions(vad.first_sample)  # a query between pushes changes nothing
        i += n


@pytest.mark.parametrize(("stem", "sr", "frame_ms"), [
    ("bonafide_lj001-0001", 16000, 30), ("bonafide_8k_hts1a", 8000, 30),
    ("spoof_hn-nsf_slt_arctic_b0474", 8000, 10), ("spoof_wavefake_lj001-0001_gen", 16000, 20),
])  # fmt: skip
def test_chunked_equals_all_at_once(stem, sr, frame_ms):
    y = _noisy(load_audio(AUDIO / f"{stem}.flac", sr=sr).samples, 20.0)
    whole = IncrementalVad(sr=sr, frame_ms=frame_ms)
    whole.push(y)
    chunked = IncrementalVad(sr=sr, frame_ms=frame_ms)
    _push_random(chunked, y, seed=len(stem), max_chunk=3 * whole.frame_len + 7)
    assert chunked.n_samples == whole.n_samples == y.size
    assert chunked.classified == whole.classified > 0
    np.testing.assert_array_equal(chunked._level, whole._level)  # same filter output
    np.testing.assert_array_equal(chunked._speech, whole._speech)  # same WebRTC flags
    assert len(whole.regions()) > 0
    for start in range(0, y.size, 37 * whole.frame_len):
        np.testing.assert_array_equal(chunked.regions(start), whole.regions(start))


@pytest.mark.parametrize("sr", [8000, 16000])
@pytest.mark.parametrize("stem", STEMS)
@pytest.mark.parametrize("snr_db", [None, 15.0])
def test_agrees_with_speech_regions(stem, sr, snr_db):
    y = load_audio(AUDIO / f"{stem}.flac", sr=sr).samples
    if snr_db is not None:
        y = _noisy(y, snr_db)
    y = np.concatenate([np.zeros(sr // 2, np.float32), y, np.zeros(sr // 2, np.float32)])
    offline = speech_regions(y, sr=sr)
    vad = IncrementalVad(sr=sr)
    vad.push(y)
    regions = vad.regions()
    assert regions.dtype == np.int64 and regions.shape[1] == 2
    assert np.all(regions[1:, 0] > regions[:-1, 1]) and regions[-1, 1] <= y.size
    assert _iou(regions, offline, y.size) >= MIN_IOU
    # over a later span: the rule of speech_regions on that slice (noise floor of the span)
    start = (y.size // 3) // vad.frame_len * vad.frame_len
    later = speech_regions(y[start:], sr=sr) + start
    assert _iou(vad.regions(start), later, y.size) >= MIN_IOU
    assert vad.regions(start).min() >= start


def _checks(vad, y, *, sr, interval=3.0, context=1.0, lookback=10.0):
    """Drive ``vad`` as frozen mode does; yield (samples so far, is_speech calls, start)."""
    step, ctx, back = round(interval * sr), round(context * sr), round(lookback * sr)
    frozen = 0
    for n in range(step, y.size + step, step):
        n = min(n, y.size)
        before = vad.classified
        vad.push(y[vad.n_samples : n])
        start = max(0, frozen - back) // vad.frame_len * vad.frame_len
        regions = vad.regions(start)
        assert len(regions) == 0 or regions[0, 0] >= start
        frozen = max(frozen, n - ctx)
        vad.trim(max(0, frozen - back) // vad.frame_len * vad.frame_len)
        yield n, vad.classified - before, start


def test_each_frame_classified_once_and_check_cost_does_not_grow(monkeypatch):
    sr = 8000
    y = _call(240.0, sr)
    calls = []
    real = webrtcvad.Vad.is_speech

    def counting(self, buf, sample_rate, length=None):
        calls.append(len(buf))
        return real(self, buf, sample_rate, length)

    monkeypatch.setattr(webrtcvad.Vad, "is_speech", counting)
    vad = IncrementalVad(sr=sr)
    new_frames = 3 * sr // vad.frame_len + 1  # frames a 3 s check can complete
    per_check = []
    prev = 0
    for n, k, _ in _checks(vad, y, sr=sr):
        assert k <= n // vad.frame_len - prev // vad.frame_len  # only the new frames
        prev = n
        per_check.append(k)
    assert len(calls) == vad.classified == sum(per_check)
    assert all(size == 2 * vad.frame_len for size in calls)
    # each frame is given to WebRTC at most once (exactly once unless at the energy floor) ...
    assert 0.5 * (y.size // vad.frame_len) < vad.classified <= y.size // vad.frame_len
    # ... so a check late in a 4-minute call costs what an early one does
    assert max(per_check) <= new_frames
    assert max(per_check[-20:]) <= max(per_check[:20]) + 1


def test_memory_stays_bounded_on_a_long_call():
    sr = 8000
    y = _call(600.0, sr)  # a 10-minute call
    vad = IncrementalVad(sr=sr)
    bound = (10.0 + 1.0 + 3.0) * sr // vad.frame_len + 1  # lookback + context + interval
    kept = [vad.kept_frames for _ in _checks(vad, y, sr=sr)]
    assert max(kept) <= bound < y.size // vad.frame_len // 10
    assert vad._level.size == vad._speech.size == vad.kept_frames
    assert vad._partial.size < vad.frame_len
    assert vad.first_sample > 500 * sr
    with pytest.raises(ParameterError, match="'start'"):
        vad.regions(0)  # trimmed


def test_silence_short_and_empty_input():
    vad = IncrementalVad(sr=16000)
    vad.push(np.zeros(0, np.float32))
    assert vad.n_samples == 0 and vad.regions().shape == (0, 2)
    vad.push(np.zeros(16000, np.float32))
    assert vad.regions().shape == (0, 2) and vad.classified == 0  # below the floor: skipped
    vad.push(np.full(100, 0.5, np.float32))  # less than a frame
    assert vad.kept_frames == 16000 // vad.frame_len and vad.n_samples == 16100
    assert vad.regions().shape == (0, 2) and vad.classified == 0
    assert vad.regions(vad.n_samples // vad.frame_len * vad.frame_len).shape == (0, 2)


def test_validation():
    with pytest.raises(ParameterError, match="'sr'"):
        IncrementalVad(sr=11025)  # not a WebRTC rate: resample first
    with pytest.raises(ParameterError, match="'sr'"):
        IncrementalVad(sr=500)
    for kwargs, name in [
        ({"aggressiveness": 4}, "aggressiveness"), ({"frame_ms": 25}, "frame_ms"),
        ({"pad_ms": -1}, "pad_ms"), ({"min_speech_ms": 1.5}, "min_speech_ms"),
    ]:  # fmt: skip
        with pytest.raises(ParameterError, match=f"'{name}'"):
            IncrementalVad(sr=8000, **kwargs)
    vad = IncrementalVad(sr=8000)
    for y in (np.zeros((2, 100), np.float32), np.array([0.0, np.nan]), np.zeros(100, np.int16)):
        with pytest.raises(ParameterError, match="'y'"):
            vad.push(y)
    vad.push(np.zeros(8000, np.float32))
    for start in (1, -240, 8240, 0.0):
        with pytest.raises(ParameterError, match="'start'"):
            vad.regions(start)
