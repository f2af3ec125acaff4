"""Neural-codec resynthesis of real utterances through codecs trained by the build itself.

:mod:`audio_detect.corpus.codec` defines small RVQ codecs; this generator trains the
missing ones on bona fide *training* speech during ``corpus build`` (``prepare``), then
resynthesises bona fide items of each codec's split at each of its bitrates. Three
codecs of different hop, width and codebook size are pinned to train, dev and eval, so
the eval one is an unseen system of the ``neural-codec`` family.

Training them is about 50 min of a two-hour build on 2 cores, so the codecs of a default
build are committed under ``audio_detect/corpus/assets/codecs`` with the sha256 of the
speech they were trained on: a build that selects the same training speech (same
sources, seed and config) copies them instead of training, and any other build trains
its own as before (``docs/corpus.md``).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import logging
import multiprocessing
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from ...constants import BONAFIDE_NAME
from ..codec import (
    CODEC_SR,
    CodecConfig,
    bundled_codec,
    load_codec,
    resynthesise,
    save_codec,
    speech_sha256,
    train_codec,
)
from . import Generator, Item, PlanContext, get_generator, register
from .copysynth import plan_copies, render_source

__all__ = ["CODECS", "NeuralCodecGenerator"]

logger = logging.getLogger(__name__)

#: (config, split, share of the generator's hours).
CODECS: tuple[tuple[CodecConfig, str, float], ...] = (
    (CodecConfig(name="rvq-codec-a", bitrates_q=(2, 4, 8), seed=0), "train", 0.6),
    (
        CodecConfig(
            name="rvq-codec-b",
            strides=(4, 5, 8),
            channels=(16, 32, 64),
            codebook_size=128,
            n_quantizers=4,
            bitrates_q=(2, 4),
            seed=1,
        ),
        "dev",
        0.15,
    ),
    (
        CodecConfig(
            name="rvq-codec-c",
            strides=(2, 2, 5, 8),
            channels=(24, 48, 96, 128),
            latent=48,
            codebook_size=512,
            n_quantizers=6,
            bitrates_q=(3, 6),
            seed=2,
        ),
        "eval",
        0.25,
    ),
)
#: Seconds of bona fide training speech a codec is trained on (at most).
TRAIN_SECONDS = 1800.0
#: Codecs trained by a default build, committed (see the module docstring).
BUNDLED_CODECS = Path(__file__).resolve().parents[1] / "assets" / "codecs"


def _system(cfg: CodecConfig, n_q: int) -> str:
    return f"{cfg.name}-q{n_q}"


@functools.cache
def _codec(path: str):  # pragma: no cover - exercised by a build with torch installed
    import torch

    torch.set_num_threads(1)
    return load_codec(path)


def _train_one(cfg: CodecConfig, speech: list[np.ndarray], out: str, digest: str) -> str:
    """Process-pool worker: train and save one codec; return its directory."""
    import time

    import torch

    torch.set_num_threads(1)
    t0 = time.monotonic()
    model = train_codec(speech, cfg)
    info = {
        "train_seconds_of_speech": round(sum(len(s) for s in speech) / CODEC_SR, 1),
        "wall_seconds": round(time.monotonic() - t0, 1),
        "kbps": {str(q): cfg.kbps(q) for q in cfg.bitrates_q},
        "train_speech_sha256": digest,
    }
    return str(save_codec(model, cfg, out, info=info))


@register
class NeuralCodecGenerator(Generator):
    """Resynthesis of bona fide items through RVQ codecs trained on training speech."""

    name = "neural_codec"
    family = "neural-codec"
    needs_source_audio = True
    default_hours = 1.0
    smoke = False
    # Part of the default build since whisper-cm-8k 2.2.0, which trained on it (measured in
    # docs/corpus.md and docs/training.md); torch-less machines skip it and say so.
    opt_in = False

    def __init__(
        self, codec_dir: str | Path | None = None, *, bundle_dir: str | Path | None = BUNDLED_CODECS
    ) -> None:
        self.codec_dir = Path(codec_dir) if codec_dir is not None else None
        self.bundle_dir = Path(bundle_dir) if bundle_dir is not None else None

    def available(self) -> bool:
        return importlib.util.find_spec("torch") is not None

    def unavailable_reason(self) -> str:
        return "needs torch (the train extra) to train and run the codecs"

    def systems(self) -> dict[str, str]:
        return {_system(c, q): self.family for c, _, _ in CODECS for q in c.bitrates_q}

    def pinned_splits(self) -> dict[str, str]:
        """Each codec's bitrates sit in the codec's split."""
        return {_system(c, q): split for c, split, _ in CODECS for q in c.bitrates_q}

    def prepare(self, ctx: PlanContext, *, out_dir: Path, workers: int = 1) -> None:
        """Make every codec missing under ``out_dir/codecs``: the bundled one when it was
        trained on the same speech with the same config, else train it on bona fide
        training speech."""
        self.codec_dir = Path(out_dir) / "codecs"
        if not ctx.bonafide:
            return
        todo = [c for c, _, _ in CODECS if not (self.codec_dir / c.name / "codec.json").is_file()]
        if not todo:
            return
        speech = _training_speech(ctx, seconds=TRAIN_SECONDS if not ctx.smoke else 20.0)
        if ctx.smoke:
            todo = [dataclasses.replace(c, steps=4) for c in todo]
        digest = speech_sha256(speech)
        for cfg in list(todo):
            found = self.bundle_dir and bundled_codec(cfg, digest, self.bundle_dir)
            if found:
                shutil.copytree(found, self.codec_dir / cfg.name, dirs_exist_ok=True)
                logger.info("codec %s: the bundled one (trained on this speech)", cfg.name)
                todo.remove(cfg)
        if not todo:
            return
        logger.info("training %d codec(s) on %.0f s of speech", len(todo), _dur(speech))
        # Spawn, never fork: a parent that already ran autograd (a test process, a notebook)
        # cannot fork a child that trains (torch refuses autograd after fork).
        with ProcessPoolExecutor(
            max_workers=max(1, min(workers, len(todo))),
            mp_context=multiprocessing.get_context("spawn"),
        ) as pool:
            futures = [
                pool.submit(_train_one, c, speech, str(self.codec_dir / c.name), digest)
                for c in todo
            ]
            for f in futures:
                logger.info("codec written to %s", f.result())

    def plan(self, ctx: PlanContext, *, hours: float) -> list[Item]:
        if self.codec_dir is None:
            return []
        items: list[Item] = []
        for cfg, split, share in CODECS:
            if not (self.codec_dir / cfg.name / "codec.json").is_file():
                logger.info("neural_codec: %s not trained yet; not planned", cfg.name)
                continue
            assert self.codec_dir is not None
            codec_dir = str((self.codec_dir / cfg.name).resolve())
            qs = cfg.bitrates_q
            items += plan_copies(
                ctx,
                generator=self.name,
                family=self.family,
                system=lambda k, cfg=cfg, qs=qs: _system(cfg, qs[k % len(qs)]),
                split=split,
                budget=15.0 if ctx.smoke else hours * 3600 * share,
                rng_key=f"{self.name}:{cfg.name}",
                native_sr=CODEC_SR,
                extra_params=lambda k, d=codec_dir, qs=qs: {"codec_dir": d, "n_q": qs[k % len(qs)]},
            )
        return items

    def generate(self, item: Item, *, seed: int) -> tuple[np.ndarray, int]:
        y, sr = render_source(item, seed=seed)
        codec = _codec(item.params["codec_dir"])
        return resynthesise(codec, y, sr, n_q=int(item.params["n_q"])), CODEC_SR


def _dur(speech: list[np.ndarray]) -> float:
    return sum(len(s) for s in speech) / CODEC_SR


def _training_speech(ctx: PlanContext, *, seconds: float) -> list[np.ndarray]:
    """Render a seeded share of the planned bona fide *training* items at 16 kHz."""
    from .._io import resample

    pool = [it for it in ctx.bonafide if it.split == "train" and it.label == BONAFIDE_NAME]
    order = ctx.rng("neural_codec:train").permutation(len(pool))
    out: list[np.ndarray] = []
    for i in order:
        if _dur(out) >= seconds:
            break
        src = pool[int(i)]
        y, sr = get_generator(src.generator).generate(src, seed=0)
        out.append(resample(np.asarray(y, dtype=np.float32), sr, CODEC_SR))
    return out
