"""Neural codecs trained by the corpus build, and the neural_codec generator."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from audio_detect.corpus.codec import (  # noqa: E402
    CODEC_SR,
    CodecConfig,
    bundled_codec,
    load_codec,
    resynthesise,
    save_codec,
    speech_sha256,
    train_codec,
)
from audio_detect.corpus.generators import Item, PlanContext, get_generator  # noqa: E402
from audio_detect.corpus.generators.neural_codec import CODECS  # noqa: E402
from audio_detect.corpus.texts import TextBank  # noqa: E402
from audio_detect.exceptions import ModelIntegrityError, ParameterError  # noqa: E402

pytestmark = pytest.mark.torch

TINY = CodecConfig(
    name="tiny", strides=(2, 4), channels=(4, 8), latent=8, codebook_size=16,
    n_quantizers=2, bitrates_q=(1, 2), steps=3, batch_size=2, crop_seconds=0.1,
)  # fmt: skip


def _speech(n: int = 3, seconds: float = 0.5) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * CODEC_SR)) / CODEC_SR
    return [
        (0.3 * np.sin(2 * np.pi * (120 + 40 * k) * t) + 0.01 * rng.standard_normal(t.size)).astype(
            np.float32
        )
        for k in range(n)
    ]


def test_config_validates_and_reports_bitrate() -> None:
    cfg = CodecConfig()
    assert cfg.hop == 320
    assert cfg.kbps(2) == pytest.approx(0.8)  # 50 frames/s x 2 codebooks x 8 bits
    with pytest.raises(ParameterError, match="bitrates_q"):
        CodecConfig(n_quantizers=2, bitrates_q=(4,))
    with pytest.raises(ParameterError, match="strides"):
        CodecConfig(strides=(2, 4), channels=(8,))
    with pytest.raises(ParameterError, match="codec config"):
        CodecConfig.from_dict({"name": "x", "nope": 1})


def test_train_save_load_roundtrip_is_deterministic(tmp_path: Path) -> None:
    model = train_codec(_speech(), TINY)
    out = save_codec(model, TINY, tmp_path / "c", info={"note": "tiny"})
    assert (out / "codec.safetensors").is_file() and (out / "codec.json").is_file()
    codec = load_codec(out)
    assert codec.cfg == TINY
    y = _speech(1, 0.37)[0]  # not a multiple of the hop: padded, then cut back
    a = codec(y, n_q=2)
    assert a.shape == y.shape and a.dtype == np.float32
    assert np.array_equal(a, load_codec(out)(y, n_q=2))
    # fewer codebooks, another reconstruction; resampling keeps the duration
    assert not np.array_equal(a, codec(y, n_q=1))
    assert resynthesise(codec, y[:4000], 8000, n_q=1).shape == (8000,)
    # the same seed and data give the same weights
    again = train_codec(_speech(), TINY)
    for (k, v), w in zip(model.state_dict().items(), again.state_dict().values(), strict=True):
        assert torch.equal(v, w), k


def test_training_needs_long_enough_speech() -> None:
    with pytest.raises(ParameterError, match="speech"):
        train_codec([np.zeros(10, np.float32)], TINY)


def test_codecs_are_distinct_systems_pinned_to_every_split() -> None:
    gen = get_generator("neural_codec")
    assert not gen.opt_in  # in the default build (whisper-cm-8k 2.2.0 trained on it)
    splits = gen.pinned_splits()
    assert set(splits.values()) == {"train", "dev", "eval"}
    assert set(gen.systems().values()) == {"neural-codec"}
    names = [c.name for c, _, _ in CODECS]
    assert len(names) == len(set(names))


def test_prepare_trains_missing_codecs_then_plans_copies(tmp_path: Path, monkeypatch) -> None:
    import audio_detect.corpus.generators.neural_codec as nc

    monkeypatch.setattr(nc, "CODECS", ((TINY, "train", 1.0),))
    gen = nc.NeuralCodecGenerator(tmp_path / "codecs", bundle_dir=None)
    src = [
        Item(
            item_id=f"b{k}", generator="fixtures", label="bonafide", system="bonafide",
            family="bonafide", source="fixtures", speaker="s", language="en", text="",
            split="train", est_seconds=3.0,
        )
        for k in range(4)
    ]  # fmt: skip
    ctx = PlanContext(seed=0, smoke=True, texts=TextBank.default(), bonafide=src)
    assert gen.plan(ctx, hours=1.0) == []  # not trained yet: nothing planned
    monkeypatch.setattr(nc, "_training_speech", lambda ctx, seconds: _speech())
    # The parent has run autograd, as a test process or a notebook may have: the codec
    # workers are spawned, so they train anyway (CI once failed on a forked worker here).
    (torch.ones(2, requires_grad=True) * 2).sum().backward()
    gen.prepare(ctx, out_dir=tmp_path, workers=1)
    assert (tmp_path / "codecs" / "tiny" / "codec.json").is_file()
    info = json.loads((tmp_path / "codecs" / "tiny" / "codec.json").read_text())["info"]
    assert info["train_speech_sha256"] == speech_sha256(_speech())
    items = gen.plan(ctx, hours=1.0)
    assert items and {it.system for it in items} <= {"tiny-q1", "tiny-q2"}
    assert all(it.split == "train" and it.family == "neural-codec" for it in items)
    assert all(Path(it.params["codec_dir"]).is_dir() for it in items)


def test_saved_weights_are_checked_on_load(tmp_path: Path) -> None:
    out = save_codec(train_codec(_speech(), TINY), TINY, tmp_path / "c")
    info = json.loads((out / "codec.json").read_text())["info"]
    assert len(info["weights_sha256"]) == 64
    blob = bytearray((out / "codec.safetensors").read_bytes())
    blob[-1] ^= 0xFF
    (out / "codec.safetensors").write_bytes(bytes(blob))
    with pytest.raises(ModelIntegrityError, match="sha256"):
        load_codec(out)


def test_speech_digest_depends_on_every_sample_and_the_cut() -> None:
    a = _speech()
    assert speech_sha256(a) == speech_sha256([x.copy() for x in a])
    b = [x.copy() for x in a]
    b[1][5] += 1e-6
    assert speech_sha256(b) != speech_sha256(a)
    joined = np.concatenate(a[:2])
    assert speech_sha256([joined, a[2]]) != speech_sha256(a)  # same samples, other clips


def test_bundled_codec_only_for_the_same_config_and_speech(tmp_path: Path) -> None:
    digest = speech_sha256(_speech())
    save_codec(train_codec(_speech(), TINY), TINY, tmp_path / "tiny",
               info={"train_speech_sha256": digest})  # fmt: skip
    assert bundled_codec(TINY, digest, tmp_path) == tmp_path / "tiny"
    assert bundled_codec(TINY, speech_sha256(_speech(2)), tmp_path) is None
    other = CodecConfig(**{**TINY.__dict__, "steps": 4})
    assert bundled_codec(other, digest, tmp_path) is None
    assert bundled_codec(CodecConfig(name="absent"), digest, tmp_path / "nowhere") is None
    (tmp_path / "tiny" / "codec.safetensors").write_bytes(b"not the weights")
    assert bundled_codec(TINY, digest, tmp_path) is None  # damaged: train instead


def test_prepare_copies_a_bundled_codec_instead_of_training(tmp_path: Path, monkeypatch) -> None:
    import audio_detect.corpus.generators.neural_codec as nc

    monkeypatch.setattr(nc, "CODECS", ((TINY, "train", 1.0),))
    monkeypatch.setattr(nc, "_training_speech", lambda ctx, seconds: _speech())

    def no_training(*args, **kwargs):
        raise AssertionError("trained although a bundled codec fits")

    monkeypatch.setattr(nc, "ProcessPoolExecutor", no_training)
    bundle = tmp_path / "bundle"
    tiny = dataclasses.replace(TINY, steps=4)  # what a smoke build trains
    save_codec(train_codec(_speech(), tiny), tiny, bundle / "tiny",
               info={"train_speech_sha256": speech_sha256(_speech())})  # fmt: skip
    src = [
        Item(
            item_id="b0", generator="fixtures", label="bonafide", system="bonafide",
            family="bonafide", source="fixtures", speaker="s", language="en", text="",
            split="train", est_seconds=3.0,
        )
    ]  # fmt: skip
    ctx = PlanContext(seed=0, smoke=True, texts=TextBank.default(), bonafide=src)
    gen = nc.NeuralCodecGenerator(tmp_path / "out" / "codecs", bundle_dir=bundle)
    gen.prepare(ctx, out_dir=tmp_path / "out", workers=1)
    got = tmp_path / "out" / "codecs" / "tiny"
    assert (got / "codec.safetensors").read_bytes() == (
        bundle / "tiny" / "codec.safetensors"
    ).read_bytes()
    assert load_codec(got).cfg == tiny
    assert gen.plan(ctx, hours=1.0)
