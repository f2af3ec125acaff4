"""Train/dev/eval protocol of the open corpus.

Rules
-----
* Bona fide speakers are disjoint across splits (a speaker's recordings, and the
  voice-conversion targets named after them, sit in one split).
* Spoofing systems are disjoint across splits. Every family has at least one system in
  ``eval`` (when it has two or more), and whole families are held out
  (:data:`HELD_OUT_FAMILIES` go to ``eval`` only): eval systems are unseen in training.
* Copy-synthesis and conversion of an utterance land in the split of their source: the
  planner draws sources only from the split of the system.
* Shared-corpus paired demo pages (ground truth + its vocoded copies) move as one unit;
  the codec2 examples (``all.flac`` with its parts) are one speaker group.
"""

from __future__ import annotations

import csv
import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from ..exceptions import ParameterError
from .generators import derive_seed

__all__ = [
    "HELD_OUT_FAMILIES",
    "MODERN_PROTOCOL",
    "NEURAL_FAMILIES",
    "SPLITS",
    "assign_system_splits",
    "hash_split",
    "is_neural_system",
    "modern_rows",
    "split_summary",
    "write_protocols",
]

logger = logging.getLogger(__name__)

SPLITS = ("train", "dev", "eval")
#: Families whose every system is kept for eval (leave-family-out).
HELD_OUT_FAMILIES = ("voice-conversion",)
_WEIGHTS = (0.7, 0.1, 0.2)
#: Families whose every system is a neural generator.
NEURAL_FAMILIES = ("neural-tts", "neural-vocoder", "neural-codec")
#: Voice-conversion systems made by signal processing, not by a neural network.
_NON_NEURAL_VC_PREFIXES = ("world-",)
#: File name (without ``.csv``) of the protocol of unseen neural generators.
MODERN_PROTOCOL = "modern"


def is_neural_system(system: str, family: str) -> bool:
    """True for a neural generator: neural TTS, vocoder or codec, or a neural VC system."""
    if family in NEURAL_FAMILIES:
        return True
    return family == "voice-conversion" and not system.startswith(_NON_NEURAL_VC_PREFIXES)


def modern_rows(
    rows: Sequence[Mapping[str, str]], *, split: str = "eval"
) -> list[Mapping[str, str]]:
    """The rows of the ``modern`` protocol: unseen neural spoofs, unseen real sources.

    Spoofs: every row of ``split`` made by a neural system (:func:`is_neural_system`)
    that no training row shares (leave-system-out inside the neural families, not
    leave-family-out of old ones). Bona fide: rows of ``split`` whose speaker *and*
    recording source (``source`` column) never occur among the bona fide training rows.

    Parameters
    ----------
    rows : sequence of mapping
        Manifest rows with ``label``, ``system``, ``family``, ``source``, ``speaker``
        and ``split``.
    split : str
        The split the protocol is drawn from.

    Returns
    -------
    list of mapping
        The selected rows, in input order.
    """
    train = [r for r in rows if r["split"] == "train"]
    train_systems = {r["system"] for r in train if r["label"] != "bonafide"}
    train_sources = {r["source"] for r in train if r["label"] == "bonafide"}
    train_speakers = {r["speaker"] for r in train if r["label"] == "bonafide"}
    out: list[Mapping[str, str]] = []
    for r in rows:
        if r["split"] != split:
            continue
        if r["label"] == "bonafide":
            if r["source"] not in train_sources and r["speaker"] not in train_speakers:
                out.append(r)
        elif is_neural_system(r["system"], r["family"]) and r["system"] not in train_systems:
            out.append(r)
    return out


def hash_split(key: str, *, seed: int, weights: Sequence[float] = _WEIGHTS) -> str:
    """Deterministic split of ``key`` with the given train/dev/eval weights."""
    u = (derive_seed(seed, "split:" + key) % 1_000_003) / 1_000_003
    edge = 0.0
    for name, w in zip(SPLITS, weights, strict=True):
        edge += w
        if u < edge:
            return name
    return SPLITS[-1]


def assign_system_splits(
    systems: Mapping[str, str],
    *,
    pinned: Mapping[str, str] | None = None,
    seed: int = 0,
    held_out_families: Iterable[str] = HELD_OUT_FAMILIES,
) -> dict[str, str]:
    """Assign every spoofing system to one split.

    Parameters
    ----------
    systems : mapping
        ``{system: family}``.
    pinned : mapping, optional
        ``{system: split}`` fixed in advance (shared demo pages).
    seed : int
        Global seed (the order in which free systems are dealt).
    held_out_families : iterable of str
        Families whose systems all go to ``eval``, except those ``pinned`` elsewhere
        (the voice conversion made here for training, :mod:`.generators.knn_vc`).

    Returns
    -------
    dict
        ``{system: split}``. Per family with two or more systems, at least one is in
        ``eval`` and (with three or more) one in ``dev``; the rest train.
    """
    pinned = dict(pinned or {})
    bad = {s: v for s, v in pinned.items() if v not in SPLITS}
    if bad:
        raise ParameterError.invalid("pinned", f"splits in {SPLITS}", bad)
    held = set(held_out_families)
    out: dict[str, str] = {}
    by_family: dict[str, list[str]] = defaultdict(list)
    for system, family in systems.items():
        if system in pinned:  # a generator's own choice beats its family's hold-out
            out[system] = pinned[system]
        elif family in held:
            out[system] = "eval"
        else:
            by_family[family].append(system)
    for family, free in by_family.items():
        free.sort(key=lambda s: derive_seed(seed, "system:" + s))
        have = {out[s] for s, f in systems.items() if f == family and s in out}
        n_total = len(free) + sum(1 for s, f in systems.items() if f == family and s in out)
        queue = list(free)
        if n_total >= 2 and "eval" not in have and queue:
            out[queue.pop(0)] = "eval"
        if n_total >= 3 and "dev" not in have and queue:
            out[queue.pop(0)] = "dev"
        n_free_eval = max(0, round(0.2 * len(free)) - 1)
        for _ in range(min(n_free_eval, max(0, len(queue) - 1))):
            out[queue.pop(0)] = "eval"
        for system in queue:
            out[system] = "train"
    return out


def split_summary(rows: Sequence[Mapping[str, str]]) -> dict[str, object]:
    """Hours, counts, systems, families, speakers and languages per split and overall."""

    def _one(sel: list[Mapping[str, str]]) -> dict[str, object]:
        bona = [r for r in sel if r["label"] == "bonafide"]
        spoof = [r for r in sel if r["label"] == "spoof"]
        return {
            "files": len(sel),
            "hours": round(sum(float(r["duration_s"]) for r in sel) / 3600.0, 3),
            "bonafide_files": len(bona),
            "bonafide_hours": round(sum(float(r["duration_s"]) for r in bona) / 3600.0, 3),
            "spoof_files": len(spoof),
            "spoof_hours": round(sum(float(r["duration_s"]) for r in spoof) / 3600.0, 3),
            "spoof_systems": sorted({r["system"] for r in spoof}),
            "families": sorted({r["family"] for r in spoof}),
            "bonafide_speakers": len({r["speaker"] for r in bona}),
            "languages": sorted({r["language"] for r in sel if r["language"]}),
            "channels": sorted({r["channel"] for r in sel}),
        }

    out: dict[str, object] = {"all": _one(list(rows))}
    for split in SPLITS:
        out[split] = _one([r for r in rows if r["split"] == split])
    all_ = out["all"]
    assert isinstance(all_, dict)
    all_["n_spoof_systems"] = len(all_["spoof_systems"])
    all_["n_families"] = len(all_["families"])
    train_sys = set(out["train"]["spoof_systems"])  # type: ignore[index]
    eval_sys = set(out["eval"]["spoof_systems"])  # type: ignore[index]
    train_spk = {r["speaker"] for r in rows if r["split"] == "train" and r["label"] == "bonafide"}
    eval_spk = {r["speaker"] for r in rows if r["split"] == "eval" and r["label"] == "bonafide"}
    out["checks"] = {
        "eval_systems_unseen_in_train": not (train_sys & eval_sys),
        "bonafide_speakers_disjoint_train_eval": not (train_spk & eval_spk),
        "held_out_families": sorted(
            set(out["eval"]["families"]) - set(out["train"]["families"])  # type: ignore[index]
        ),
    }
    return out


def _modern_summary(rows: Sequence[Mapping[str, str]]) -> dict[str, object]:
    bona = [r for r in rows if r["label"] == "bonafide"]
    spoof = [r for r in rows if r["label"] != "bonafide"]
    return {
        "files": len(rows),
        "bonafide_files": len(bona),
        "bonafide_hours": round(sum(float(r["duration_s"]) for r in bona) / 3600.0, 3),
        "bonafide_sources": sorted({r["source"] for r in bona}),
        "bonafide_speakers": len({r["speaker"] for r in bona}),
        "spoof_files": len(spoof),
        "spoof_hours": round(sum(float(r["duration_s"]) for r in spoof) / 3600.0, 3),
        "spoof_systems": sorted({r["system"] for r in spoof}),
        "families": sorted({r["family"] for r in spoof}),
    }


def write_protocols(
    rows: Sequence[Mapping[str, str]], out_dir: Path, *, columns: Sequence[str]
) -> dict[str, object]:
    """Write ``protocols/{train,dev,eval,modern}.csv`` and ``protocols/summary.json``.

    ``modern.csv`` is the eval protocol of :func:`modern_rows` (unseen neural systems,
    bona fide from unseen speakers and sources).

    Protocol paths are relative to the corpus root (the manifest's folder); the protocol
    files therefore list ``../<path>``-free paths and carry a ``root`` hint in the summary.
    """
    proto = out_dir / "protocols"
    proto.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        with (proto / f"{split}.csv").open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
            writer.writeheader()
            for row in rows:
                if row["split"] == split:
                    writer.writerow({**row, "path": "../" + row["path"]})
    modern = modern_rows(rows)
    with (proto / f"{MODERN_PROTOCOL}.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in modern:
            writer.writerow({**row, "path": "../" + row["path"]})
    summary = split_summary(rows)
    summary[MODERN_PROTOCOL] = _modern_summary(modern)
    (proto / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary
