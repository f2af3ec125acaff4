"""EER and Cllr of `audio-detect evaluate --scores-out` files: each, their mean, a subset.

Usage::

    python scripts/score_files.py SCORES [SCORES ...] [--mean] [--exclude PATTERN ...]

Each file holds ``path system label score`` lines (score = LLR, higher = bona fide), as
written by ``audio-detect evaluate --scores-out``. Prints pooled EER (%) and Cllr of every
file on the trials all files share; ``--mean`` adds the score average of the files (the
score of an equal-weight ensemble of the models, up to the window-level averaging of
:class:`audio_detect.classifiers.ensemble.HeadEnsemble`); ``--exclude`` drops trials whose
spoof system contains a pattern (e.g. ``rvq-codec`` to read a protocol without its codec
rows) and ``--only`` keeps only the spoof systems that contain one (bona fide trials are
always kept). Used for the ablation tables of ``docs/training.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from audio_detect.evaluation.metrics import cllr, compute_eer


def read_scores(path: Path) -> dict[str, tuple[str, str, float]]:
    """``{trial path: (system, label, score)}`` of one score file."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            trial, system, label, score = line.split()
            out[trial] = (system, label, float(score))
    return out


def main() -> None:
    """Command line."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scores", type=Path, nargs="+", help="score files")
    ap.add_argument("--mean", action="store_true", help="also score the files' mean")
    ap.add_argument("--exclude", nargs="*", default=[], help="drop spoof systems matching")
    ap.add_argument("--only", nargs="*", default=[], help="keep only spoof systems matching")
    args = ap.parse_args()
    runs = [read_scores(p) for p in args.scores]
    trials = sorted(set.intersection(*(set(r) for r in runs)))
    ref = runs[0]
    trials = [
        t for t in trials
        if ref[t][1] != "spoof" or (
            not any(p in ref[t][0] for p in args.exclude)
            and (not args.only or any(p in ref[t][0] for p in args.only))
        )
    ]  # fmt: skip
    spoof = np.array([ref[t][1] == "spoof" for t in trials])
    print(f"{len(trials)} trials ({int((~spoof).sum())} bona fide, {int(spoof.sum())} spoof)")
    rows = [
        (str(path), np.array([r[t][2] for t in trials]))
        for path, r in zip(args.scores, runs, strict=True)
    ]
    if args.mean and len(rows) > 1:
        rows.append((f"mean of {len(rows)}", np.mean([s for _, s in rows], axis=0)))
    for name, llr in rows:
        y = spoof.astype(int)  # library direction below: label 1 = spoof, higher = spoof
        eer, cost = compute_eer(y, -llr)[0], cllr(y, -llr)
        print(f"{name:<48} EER {100 * eer:6.2f} %  Cllr {cost:.3f}")


if __name__ == "__main__":
    main()
