"""Training data: decoded speech cached in RAM, fixed-length crops, balanced sampling.

Every utterance is decoded once at the model rate (:func:`audio_detect.audio.io.load_audio`),
its speech found with the serving VAD (:func:`audio_detect.audio.vad.speech_regions`)
and the **concatenated speech** kept as int16 in RAM (optionally also on disk as
``.npy``, never pickled). Serving scores windows of the concatenated speech
(:mod:`audio_detect.audio.windows`), so training crops come from the same signal.

Crops are ``crop_seconds`` long: random in training (after optional speed
perturbation), deterministic (centre) in evaluation; speech shorter than a crop is
repeated to length (Tak et al., RawNet2 recipe), the same for both classes.
Utterances with less speech than ``min_speech_seconds`` are dropped, as serving
would answer ``not_enough_speech`` for them.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from ..constants import BONAFIDE, SPOOF
from ..datasets.manifest import Manifest, Utterance
from ..exceptions import AudioDetectError
from .augment import Augmenter

__all__ = [
    "BalancedSampler",
    "CachedClip",
    "CropDataset",
    "PairedSampler",
    "group_of",
    "load_clips",
    "partner_index",
    "sampling_weights",
]

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class CachedClip:
    """One decoded utterance: full int16 samples, speech regions, and its labels."""

    utt_id: str
    audio: np.ndarray  # int16, full recording at the model rate
    regions: np.ndarray  # int64 (n, 2) speech regions
    label: int
    system: str
    group: str
    family: str = ""
    item: str = ""  # the corpus item the row was cut from (manifest ``item``)
    parent: str = ""  # the bona fide item a copy was made from (manifest ``parent``)

    def speech(self) -> np.ndarray:
        """Concatenated speech as float32 in [-1, 1]."""
        if len(self.regions) == 0:
            return self.audio.astype(np.float32) / 32768.0
        parts = [self.audio[s:e] for s, e in self.regions]
        return np.concatenate(parts).astype(np.float32) / 32768.0

    def full(self) -> np.ndarray:
        """The whole recording as float32."""
        return self.audio.astype(np.float32) / 32768.0

    @property
    def n_speech(self) -> int:
        """Number of speech samples."""
        if len(self.regions) == 0:
            return len(self.audio)
        return int(np.sum(self.regions[:, 1] - self.regions[:, 0]))


def group_of(u: Utterance) -> str:
    """Sampling group: the system for spoofs, the source (or speaker corpus) for bona fide."""
    if u.label == SPOOF:
        return f"spoof:{u.system}"
    source = u.get("source") or u.get("family") or (u.speaker.split(":")[0] if u.speaker else "")
    return f"bonafide:{source or 'unknown'}"


def _cache_key(path: Path, sr: int) -> str:
    st = path.stat()
    text = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{sr}|v1"
    return hashlib.sha1(text.encode()).hexdigest()


def _decode(path: Path, sr: int, cache_dir: Path | None) -> tuple[np.ndarray, np.ndarray]:
    from ..audio.io import load_audio
    from ..audio.vad import speech_regions

    key = _cache_key(path, sr) if cache_dir is not None else ""
    if cache_dir is not None:
        a_path, r_path = cache_dir / f"{key}.audio.npy", cache_dir / f"{key}.regions.npy"
        if a_path.is_file() and r_path.is_file():
            return np.load(a_path, allow_pickle=False), np.load(r_path, allow_pickle=False)
    audio = load_audio(path, sr=sr, max_seconds=600.0)
    y = audio.samples
    regions = speech_regions(y, sr=sr)
    pcm = np.clip(np.round(y * 32767.0), -32768, 32767).astype(np.int16)
    if cache_dir is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        # Written under a private name and renamed: a concurrent run reading the same cache
        # never sees a half-written array (regions last, so both exist once it does).
        for target, arr in ((a_path, pcm), (r_path, regions.astype(np.int64))):
            tmp = target.with_name(f".{target.stem}.{os.getpid()}.tmp.npy")
            np.save(tmp, arr, allow_pickle=False)
            os.replace(tmp, target)
    return pcm, regions.astype(np.int64)


def load_clips(
    manifest: Manifest,
    *,
    sr: int,
    min_speech_seconds: float = 1.0,
    cache_dir: str | Path | None = None,
    progress: Progress | None = None,
    stage: str = "decode",
) -> list[CachedClip]:
    """Decode every utterance of ``manifest`` at ``sr`` into :class:`CachedClip` objects.

    Files that fail to decode, or hold less than ``min_speech_seconds`` of speech,
    are skipped with a log line (counted in the summary).
    """
    cache = Path(cache_dir) if cache_dir is not None else None
    clips: list[CachedClip] = []
    n_fail = n_short = 0
    min_len = round(min_speech_seconds * sr)
    for i, u in enumerate(manifest):
        if progress is not None:
            progress(stage, i, len(manifest))
        if u.path is None:
            n_fail += 1
            continue
        try:
            pcm, regions = _decode(Path(u.path), sr, cache)
        except (AudioDetectError, OSError) as exc:
            logger.warning("skipping %s: %s", u.path, exc)
            n_fail += 1
            continue
        clip = CachedClip(
            u.utt_id, pcm, regions, int(u.label), u.system, group_of(u),
            u.get("family") or "", u.get("item") or "", u.get("parent") or "",
        )  # fmt: skip
        if clip.n_speech < max(min_len, 1) or len(regions) == 0:
            n_short += 1
            continue
        clips.append(clip)
    if progress is not None:
        progress(stage, len(manifest), len(manifest))
    logger.info(
        "%s: %d clips kept, %d undecodable, %d with < %.2f s speech",
        stage, len(clips), n_fail, n_short, min_speech_seconds,
    )  # fmt: skip
    return clips


def sampling_weights(clips: Sequence[CachedClip], *, mode: str) -> np.ndarray:
    """Per-clip draw probabilities.

    ``none``: uniform. ``label``: both classes drawn equally often. ``label_group``:
    both classes equally often; inside a class a group (spoof system, bona fide
    source) gets probability proportional to the square root of its size, spread
    evenly over its clips, so a huge source (say 1,500 digit recordings) cannot
    dominate and a tiny system is still seen. ``label_family``: as ``label_group``,
    except that spoof *families* (neural TTS, neural vocoder, formant TTS, ...) get
    equal shares first and the square-root rule applies among the systems of a family,
    so a family of many small systems (a demo page of 50 TTS variants) cannot crowd
    out one large system of another family (vocoded bona fide speech).
    """
    n = len(clips)
    if n == 0:
        return np.zeros(0)
    if mode == "none":
        return np.full(n, 1.0 / n)
    labels = np.array([c.label for c in clips])
    w = np.zeros(n)
    present = [lab for lab in (BONAFIDE, SPOOF) if np.any(labels == lab)]
    for lab in present:
        idx = np.flatnonzero(labels == lab)
        if mode == "label":
            w[idx] = 1.0 / len(idx)
            continue
        by_family: dict[str, dict[str, list[int]]] = {}
        for i in idx:
            fam = clips[i].family if mode == "label_family" and lab == SPOOF else ""
            by_family.setdefault(fam, {}).setdefault(clips[i].group, []).append(int(i))
        for groups in by_family.values():
            mass = {g: np.sqrt(len(m)) for g, m in groups.items()}
            total = sum(mass.values()) * len(by_family)
            for g, members in groups.items():
                w[members] = mass[g] / total / len(members)
    w /= w.sum()
    return w


class BalancedSampler(Sampler[tuple[int, int]]):
    """Draw ``num_samples`` clip indices with replacement from ``weights``, seeded per epoch.

    Yields ``(index, draw_seed)`` pairs; the dataset seeds its crop and augmentation
    from ``draw_seed``, so an epoch is reproducible whatever the loader's workers.
    """

    def __init__(self, weights: np.ndarray, *, num_samples: int, seed: int) -> None:
        self.weights = np.asarray(weights, dtype=np.float64)
        self.num_samples = int(num_samples)
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose draws :meth:`__iter__` yields."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[tuple[int, int]]:
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.epoch, 0x5A]))
        idx = rng.choice(len(self.weights), size=self.num_samples, p=self.weights)
        seeds = rng.integers(0, 2**31 - 1, size=self.num_samples)
        return iter(zip(idx.tolist(), seeds.tolist(), strict=True))


def _segment(clip: CachedClip) -> str:
    """The part of a clip's id after its item id (``"_01"`` for an item's second row)."""
    if not clip.item:
        return ""
    at = clip.utt_id.rfind(clip.item)
    return clip.utt_id[at + len(clip.item) :] if at >= 0 else ""


def partner_index(clips: Sequence[CachedClip]) -> np.ndarray:
    """For each spoof clip, the index of its bona fide source clip, else ``-1``.

    A copy (vocoder or codec resynthesis, copy-synthesis, conversion) names its source
    item in ``parent``; the source row cut at the same place (same segment suffix) is
    preferred, else the item's first row.
    """
    by_item: dict[str, dict[str, int]] = {}
    for i, c in enumerate(clips):
        if c.label == BONAFIDE and c.item:
            by_item.setdefault(c.item, {}).setdefault(_segment(c), i)
    out = np.full(len(clips), -1, dtype=np.int64)
    for i, c in enumerate(clips):
        if c.label != SPOOF or not c.parent or c.parent not in by_item:
            continue
        rows = by_item[c.parent]
        out[i] = rows.get(_segment(c), next(iter(rows.values())))
    return out


class PairedSampler(BalancedSampler):
    """:class:`BalancedSampler` that puts copies next to their bona fide sources.

    A drawn spoof with a partner (:func:`partner_index`) is, with probability
    ``p_pair``, preceded by its source under the same draw seed and a *shared crop*
    flag, so :class:`CropDataset` cuts both at the same relative place and augments
    them identically: the pair differs only by what the generator did (Wang and
    Yamagishi, ICASSP 2023, train on vocoded bona fide for this reason). The source
    takes the place of the next bona fide draw, so the class balance of the weights
    is kept. Yields ``(index, seed)`` or ``(index, seed, 1)`` keys.
    """

    def __init__(
        self,
        weights: np.ndarray,
        *,
        partners: np.ndarray,
        labels: np.ndarray,
        p_pair: float,
        num_samples: int,
        seed: int,
    ) -> None:
        super().__init__(weights, num_samples=num_samples, seed=seed)
        self.partners = np.asarray(partners, dtype=np.int64)
        self.labels = np.asarray(labels)
        self.p_pair = float(p_pair)
        if len(self.partners) != len(self.weights) or len(self.labels) != len(self.weights):
            raise ValueError("weights, partners and labels must have one entry per clip")

    def __iter__(self) -> Iterator[tuple[int, ...]]:  # type: ignore[override]
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.epoch, 0x5B]))
        keys: list[tuple[int, ...]] = []
        owed = 0  # bona fide draws already taken by a partner
        while len(keys) < self.num_samples:
            idx = rng.choice(len(self.weights), size=self.num_samples, p=self.weights)
            seeds = rng.integers(0, 2**31 - 1, size=self.num_samples)
            pair = rng.random(self.num_samples) < self.p_pair
            for i, s, p in zip(idx.tolist(), seeds.tolist(), pair.tolist(), strict=True):
                j = int(self.partners[i])
                if j >= 0 and p:
                    keys += [(j, s, 1), (i, s, 1)]
                    owed += 1
                elif self.labels[i] == BONAFIDE and owed > 0:
                    owed -= 1
                else:
                    keys.append((i, s))
        return iter(keys[: self.num_samples])


def _fit(x: np.ndarray, n: int, start: int) -> np.ndarray:
    if len(x) >= n:
        return x[start : start + n]
    reps = int(np.ceil(n / max(len(x), 1)))
    return np.tile(x, reps)[:n]


class CropDataset(Dataset[tuple[torch.Tensor, int]]):
    """Fixed-length crops of cached speech.

    Parameters
    ----------
    clips : sequence of CachedClip
        Decoded utterances.
    sr : int
        Model rate.
    crop_seconds : float
        Crop length.
    train : bool
        Random crops and augmentation (index with ``(i, seed)`` pairs from
        :class:`BalancedSampler`); otherwise deterministic centre crops (index with ``i``).
    augmenter : Augmenter, optional
        Applied in training only.
    """

    def __init__(
        self,
        clips: Sequence[CachedClip],
        *,
        sr: int,
        crop_seconds: float,
        train: bool,
        augmenter: Augmenter | None = None,
    ) -> None:
        self.clips = list(clips)
        self.sr = sr
        self.n = round(crop_seconds * sr)
        self.train = train
        self.augmenter = augmenter if train else None

    def __len__(self) -> int:
        return len(self.clips)

    @property
    def labels(self) -> np.ndarray:
        """Labels of the clips (1 = spoof)."""
        return np.array([c.label for c in self.clips], dtype=np.int64)

    def __getitem__(self, key: int | tuple[int, ...]) -> tuple[torch.Tensor, int]:
        shared = False
        if isinstance(key, tuple):
            i, seed = int(key[0]), int(key[1])
            shared = len(key) > 2 and bool(key[2])
        else:
            i, seed = int(key), int(key)
        clip = self.clips[i]
        speech = clip.speech()
        if not self.train:
            start = max(0, (len(speech) - self.n) // 2)
            return torch.from_numpy(_fit(speech, self.n, start).copy()), clip.label
        if shared:
            # a pair (PairedSampler): the same draws for both clips, crops at the same
            # relative place of their speech
            rng = np.random.default_rng(np.random.SeedSequence([seed, 0xC1]))

            def pick(length: int, n: int) -> int:
                return int(rng.random() * (max(length - n, 0) + 1))
        else:
            rng = np.random.default_rng(np.random.SeedSequence([seed, i, 0xC0]))

            def pick(length: int, n: int) -> int:
                return int(rng.integers(0, max(length - n, 0) + 1))

        if self.augmenter is not None:
            # speed-perturb a slightly longer piece, then crop
            span = int(self.n * 1.25)
            start = pick(len(speech), span)
            speech = self.augmenter.speed(speech[start : start + span], rng)
        start = pick(len(speech), self.n)
        x = _fit(speech, self.n, start)
        if self.augmenter is not None:
            x = self.augmenter(x, rng)
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), clip.label


def collate(batch: list[tuple[torch.Tensor, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack equal-length crops and labels."""
    xs, ys = zip(*batch, strict=True)
    return torch.stack(xs), torch.tensor(ys, dtype=torch.float32)
