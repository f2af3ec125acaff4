"""Vocoding from an over-smoothed log-mel (``corpus/generators/smoothed_vocoder.py``)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from audio_detect.corpus.generators import Item, get_generator
from audio_detect.corpus.generators.neural_vocoder import (
    EXTRA_VOCODERS,
    HIFIGAN_SR,
    VOCODERS,
    hifigan_log_mel,
)
from audio_detect.corpus.generators.smoothed_vocoder import (
    SMOOTHED_VOCODERS,
    SmoothedMelVocoderGenerator,
    oversmooth_log_mel,
)
from audio_detect.exceptions import ParameterError


def _roughness(x: np.ndarray) -> float:
    """Mean squared frame-to-frame and band-to-band difference."""
    return float(np.mean(np.diff(x, axis=1) ** 2) + np.mean(np.diff(x, axis=0) ** 2))


def test_oversmoothing_blurs_keeps_the_level_and_interpolates_the_detail():
    x = np.random.default_rng(0).standard_normal((80, 200)).astype(np.float32) - 5.0
    blur = oversmooth_log_mel(x, time_sigma=1.5, freq_sigma=1.0, detail_kept=0.0)
    assert blur.shape == x.shape and blur.dtype == np.float32
    assert _roughness(blur) < 0.2 * _roughness(x)
    assert np.var(blur) < 0.5 * np.var(x)  # the "global variance" shrinks
    assert abs(blur.mean() - x.mean()) < 0.01
    np.testing.assert_allclose(
        oversmooth_log_mel(x, time_sigma=1.5, freq_sigma=1.0, detail_kept=1.0), x, atol=1e-5
    )
    half = oversmooth_log_mel(x, time_sigma=1.5, freq_sigma=1.0, detail_kept=0.5)
    np.testing.assert_allclose(half, (x + blur) / 2, atol=1e-5)
    # no blur at all is the identity whatever detail is kept
    np.testing.assert_allclose(
        oversmooth_log_mel(x, time_sigma=0.0, freq_sigma=0.0, detail_kept=0.0), x
    )


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"time_sigma": -1.0, "freq_sigma": 1.0, "detail_kept": 0.2}, "time_sigma"),
        ({"time_sigma": 1.0, "freq_sigma": float("nan"), "detail_kept": 0.2}, "freq_sigma"),
        ({"time_sigma": 1.0, "freq_sigma": 1.0, "detail_kept": 1.5}, "detail_kept"),
    ],
)
def test_oversmoothing_refuses_bad_settings(kwargs, name):
    with pytest.raises(ParameterError, match=name):
        oversmooth_log_mel(np.zeros((80, 10), np.float32), **kwargs)
    with pytest.raises(ParameterError, match="log_mel"):
        oversmooth_log_mel(np.zeros(10, np.float32), time_sigma=1, freq_sigma=1, detail_kept=0)


def test_the_source_is_default_and_uses_the_two_training_vocoders_under_new_names():
    gen = get_generator("smoothed_vocoder")
    assert not gen.opt_in  # whisper-cm-8k 2.3.0 trained on it
    trained = [v for v in (*VOCODERS, *EXTRA_VOCODERS) if v.split == "train"]
    assert [v.system for v in SMOOTHED_VOCODERS] == [f"smoothmel-{v.system}" for v in trained]
    assert [v.sr for v in SMOOTHED_VOCODERS] == [v.sr for v in trained]
    assert all(v.split == "train" for v in SMOOTHED_VOCODERS)
    others = {v.system for v in (*VOCODERS, *EXTRA_VOCODERS)}
    assert others.isdisjoint(v.system for v in SMOOTHED_VOCODERS)


def test_generate_vocodes_a_smoothed_analysis_with_settings_drawn_per_item(fixture_audio):
    seen: list[np.ndarray] = []

    def fake_vocoder(mel: np.ndarray) -> np.ndarray:
        seen.append(mel)
        return np.zeros(mel.shape[1] * 256, np.float32)

    class Faked(SmoothedMelVocoderGenerator):
        vocoders = tuple(
            dataclasses.replace(v, modules=(), load=lambda: fake_vocoder) for v in SMOOTHED_VOCODERS
        )

    path = str(fixture_audio["bonafide_lj001-0001"])
    src = Item(
        item_id="b0", generator="fixtures", label="bonafide", system="bonafide",
        family="bonafide", source="fixtures", speaker="s", language="en", text="",
        split="train", params={"paths": [path]}, native_sr=22050, est_seconds=2.0,
    )  # fmt: skip
    item = dataclasses.replace(
        src, item_id="x", generator="smoothed_vocoder", label="spoof",
        system=SMOOTHED_VOCODERS[0].system, family="neural-vocoder",
        params={"source": dataclasses.asdict(src)},
    )  # fmt: skip
    gen = Faked()
    out, sr = gen.generate(item, seed=1)
    assert sr == HIFIGAN_SR and out.dtype == np.float32
    gen.generate(item, seed=1)
    gen.generate(item, seed=2)
    first, again, other = seen
    np.testing.assert_array_equal(first, again)  # settings are the item seed's
    assert not np.allclose(first, other)
    from audio_detect.corpus._io import read_audio, resample

    y, y_sr = read_audio(path)
    plain = hifigan_log_mel(resample(y, y_sr, HIFIGAN_SR))
    assert first.shape == plain.shape
    assert _roughness(first) < 0.8 * _roughness(plain)
