"""Balanced sampling, crops and the in-RAM cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from audio_detect.datasets.manifest import read_manifest_csv  # noqa: E402
from audio_detect.training.data import (  # noqa: E402
    BalancedSampler,
    CachedClip,
    CropDataset,
    PairedSampler,
    load_clips,
    partner_index,
    sampling_weights,
)

MANIFEST = Path(__file__).parent / "data" / "tiny_manifest.csv"


def _clip(label: int, group: str, n: int = 8000) -> CachedClip:
    audio = (np.arange(n) % 200 - 100).astype(np.int16) * 100
    return CachedClip(f"{group}{n}", audio, np.array([[0, n]]), label, group, group)


def test_label_group_weights_balance_classes_and_groups() -> None:
    clips = [_clip(0, "big") for _ in range(90)] + [_clip(0, "small")] * 10
    clips += [_clip(1, "a")] * 5 + [_clip(1, "b")] * 20
    w = sampling_weights(clips, mode="label_group")
    labels = np.array([c.label for c in clips])
    assert w.sum() == pytest.approx(1.0)
    assert w[labels == 0].sum() == pytest.approx(0.5)
    big = sum(w[i] for i, c in enumerate(clips) if c.group == "big")
    assert big == pytest.approx(0.5 * 3 / 4)  # sqrt(90) : sqrt(10) = 3 : 1


def test_label_family_weights_share_spoof_mass_by_family_first() -> None:
    def spoof(system: str, family: str) -> CachedClip:
        clip = _clip(1, system)
        return CachedClip(clip.utt_id, clip.audio, clip.regions, 1, system, system, family)

    # 50 tiny TTS systems of one family against one big vocoded-speech system
    clips = [spoof(f"tts{i}", "neural-tts") for i in range(50) for _ in range(4)]
    clips += [spoof("hifigan", "neural-vocoder") for _ in range(400)]
    clips += [_clip(0, "libri")] * 10
    by_group = sampling_weights(clips, mode="label_group")
    by_family = sampling_weights(clips, mode="label_family")
    is_voc = np.array([c.system == "hifigan" for c in clips])
    assert by_family.sum() == pytest.approx(1.0)
    assert by_family[is_voc].sum() == pytest.approx(0.25)  # half of the spoof half
    assert by_group[is_voc].sum() == pytest.approx(0.5 * 20 / (20 + 50 * 2))
    bona = np.array([c.label == 0 for c in clips])
    assert by_family[bona].sum() == pytest.approx(0.5)


def test_sampler_reproducible_per_epoch() -> None:
    w = np.full(10, 0.1)
    s = BalancedSampler(w, num_samples=20, seed=3)
    first = list(s)
    assert first == list(s)
    s.set_epoch(1)
    assert list(s) != first


def test_crops_train_random_eval_deterministic() -> None:
    clips = [_clip(0, "a", 20000), _clip(1, "b", 4000)]
    ds = CropDataset(clips, sr=8000, crop_seconds=1.0, train=False)
    x0, y0 = ds[0]
    assert x0.shape == (8000,) and y0 == 0
    assert torch.equal(ds[0][0], x0)
    x1, _ = ds[1]  # shorter than a crop: repeated to length
    assert x1.shape == (8000,)
    assert torch.equal(x1[:4000], x1[4000:])
    train = CropDataset(clips, sr=8000, crop_seconds=1.0, train=True)
    assert torch.equal(train[(0, 5)][0], train[(0, 5)][0])


def test_load_clips_from_fixtures(tmp_path: Path) -> None:
    manifest = read_manifest_csv(MANIFEST)
    clips = load_clips(manifest, sr=16000, cache_dir=tmp_path)
    assert len(clips) == 4
    assert {c.label for c in clips} == {0, 1}
    assert all(c.audio.dtype == np.int16 for c in clips)
    again = load_clips(manifest, sr=16000, cache_dir=tmp_path)  # from the .npy cache
    assert all(np.array_equal(a.audio, b.audio) for a, b in zip(clips, again, strict=True))


def _item_clip(
    label: int, item: str, parent: str, audio: np.ndarray, seg: str = "_00"
) -> CachedClip:
    return CachedClip(
        f"{item}{seg}", audio, np.array([[0, len(audio)]]), label,
        "sys" if label else "bonafide", "g", "", item, parent,
    )  # fmt: skip


def test_partner_index_matches_parent_item_and_segment() -> None:
    a = np.zeros(8000, dtype=np.int16)
    clips = [
        _item_clip(0, "src1", "", a, "_00"),
        _item_clip(0, "src1", "", a, "_01"),
        _item_clip(1, "voc1", "src1", a, "_01"),  # second segment pairs with the second
        _item_clip(1, "voc2", "src1", a, "_07"),  # no such segment: the item's first row
        _item_clip(1, "tts", "", a),  # not a copy
        _item_clip(1, "voc3", "absent", a),  # source not in this split
    ]
    assert partner_index(clips).tolist() == [-1, -1, 1, 0, -1, -1]


def test_paired_sampler_puts_sources_before_copies_and_keeps_balance() -> None:
    a = np.zeros(8000, dtype=np.int16)
    clips = [_item_clip(0, f"b{i}", "", a) for i in range(20)]
    clips += [_item_clip(1, f"v{i}", f"b{i}", a) for i in range(10)]
    clips += [_item_clip(1, f"t{i}", "", a) for i in range(10)]
    labels = np.array([c.label for c in clips])
    partners = partner_index(clips)
    w = sampling_weights(clips, mode="label")
    s = PairedSampler(w, partners=partners, labels=labels, p_pair=1.0, num_samples=4000, seed=1)
    keys = list(s)
    assert len(keys) == 4000 and keys == list(s)
    n_pairs = 0
    for k, key in enumerate(keys):
        if labels[key[0]] == 1 and partners[key[0]] >= 0:
            assert k > 0  # with p_pair = 1 every copy follows its source
            prev = keys[k - 1]
            assert prev == (int(partners[key[0]]), key[1], 1) and key[2] == 1
            n_pairs += 1
    assert n_pairs > 500
    spoof_share = np.mean([labels[k[0]] for k in keys])
    assert spoof_share == pytest.approx(0.5, abs=0.05)
    # p_pair = 0 draws like the plain sampler's keys: independent (index, seed) pairs
    s0 = PairedSampler(w, partners=partners, labels=labels, p_pair=0.0, num_samples=100, seed=1)
    assert all(len(k) == 2 for k in s0)


def test_shared_crop_cuts_and_augments_a_pair_identically() -> None:
    from audio_detect.training.augment import Augmenter
    from audio_detect.training.config import AugmentConfig

    rng = np.random.default_rng(0)
    src = (rng.standard_normal(30000) * 3000).astype(np.int16)
    clips = [_item_clip(0, "b", "", src), _item_clip(1, "v", "b", src.copy())]
    aug = Augmenter(
        AugmentConfig(p_rawboost=1.0, rawboost_algos=[1, 2, 3], p_gain=1.0, p_speed=1.0),
        sr=8000,
    )
    ds = CropDataset(clips, sr=8000, crop_seconds=1.0, train=True, augmenter=aug)
    for seed in range(5):
        x0, y0 = ds[(0, seed, 1)]
        x1, y1 = ds[(1, seed, 1)]
        assert (y0, y1) == (0, 1)
        assert torch.equal(x0, x1)  # identical audio, identical draws
    # unpaired keys draw per clip: the same seed gives different crops
    assert not torch.equal(ds[(0, 3)][0], ds[(1, 3)][0])
