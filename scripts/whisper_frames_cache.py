"""Cache frozen Whisper block-1 frames of fixed 4 s crops, for fast head experiments.

Usage: python scripts/whisper_frames_cache.py [CONFIG] [OUT_DIR]
(defaults: ``configs/whisper_cm.json``, ``runs/whisper_frames``).

Per split of the config's manifest: train = one random clean crop and one augmented crop
(the config's augmentation) per file; dev/eval = the centre crop clean, through
``tel_mulaw`` and through ``tel_gsm``. Writes ``{split}_X.npy`` (float16, n x 200 x 384)
and ``{split}_meta.npy`` (file index, label, system, group, condition). About 15 min on
one core for the full corpus, 4.4 GB. Read by ``scripts/whisper_head_probe.py``.
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

from audio_detect.audio.channel import apply_channel
from audio_detect.classifiers.whisper_cm import WhisperCM
from audio_detect.datasets.manifest import read_manifest_csv
from audio_detect.training.augment import Augmenter
from audio_detect.training.config import load_train_config
from audio_detect.training.data import load_clips
from audio_detect.training.pipeline import split_manifest

torch.set_num_threads(1)
CROP = 32000  # 4 s at 8 kHz


def crop(speech: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
    """Centre crop (``rng=None``) or random crop; short speech is tiled first."""
    if len(speech) < CROP:
        speech = np.tile(speech, int(np.ceil(CROP / len(speech))))
    start = (len(speech) - CROP) // 2 if rng is None else int(rng.integers(len(speech) - CROP + 1))
    return speech[start : start + CROP].astype(np.float32)


def _encode(model: WhisperCM, batch: list[np.ndarray]) -> np.ndarray:
    with torch.no_grad():
        return model.frames(torch.from_numpy(np.stack(batch))).numpy().astype(np.float16)


def main(config_path: str, out: str) -> None:
    cfg = load_train_config(config_path)
    assert cfg.manifest is not None
    parts = split_manifest(read_manifest_csv(cfg.manifest), cfg)
    model = WhisperCM(sample_rate=8000, n_blocks=1).eval()
    augment = Augmenter(cfg.augment, sr=8000)
    os.makedirs(out, exist_ok=True)
    for split in ("dev", "eval", "train"):
        clips = load_clips(parts[split], sr=8000, cache_dir=cfg.cache_dir)
        rng = np.random.default_rng(0)
        frames: list[np.ndarray] = []
        meta: list[tuple] = []
        batch: list[np.ndarray] = []
        t0 = time.time()

        for i, c in enumerate(clips):
            sp = c.speech()
            if split == "train":
                items = [(crop(sp, rng), "clean"), (augment(crop(sp, rng), rng), "aug")]
            else:
                x = crop(sp, None)
                items = [(x, "clean")] + [
                    (apply_channel(x, sr=8000, condition=name, seed=i), name)
                    for name in ("tel_mulaw", "tel_gsm")
                ]
            for x, cond in items:
                batch.append(x)
                meta.append((i, c.label, c.system, c.group, cond))
            if len(batch) >= 32 or (i == len(clips) - 1 and batch):
                frames.append(_encode(model, batch))
                batch = []
            if i % 500 == 0:
                print(split, i, len(clips), f"{time.time() - t0:.0f}s", flush=True)
        np.save(f"{out}/{split}_X.npy", np.concatenate(frames))
        np.save(f"{out}/{split}_meta.npy", np.array(meta, dtype=object), allow_pickle=True)


if __name__ == "__main__":
    main(
        sys.argv[1] if len(sys.argv) > 1 else "configs/whisper_cm.json",
        sys.argv[2] if len(sys.argv) > 2 else "runs/whisper_frames",
    )
