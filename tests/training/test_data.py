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
    load_clips,
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
