"""EER and Cllr of `audio-detect evaluate --scores-out` files: each, their mean, a subset.

Usage::

    python scripts/score_files.py SCORES [SCORES ...] [--mean] [--exclude PATTERN ...]

Each file holds ``path system label score`` lines (score = LLR, higher = bona fide), as
written by ``audio-detect evaluate --scores-out``, read by
:func:`audio_detect.datasets.scores.read_score_file`. Prints pooled EER (%), Cllr and min
Cllr of every file on the trials all files share; ``--mean`` adds the score average of the
files (the score of an equal-weight ensemble of the models, up to the window-level averaging of
:class:`audio_detect.classifiers.ensemble.HeadEnsemble`); ``--exclude`` drops trials whose
spoof system contains a pattern (e.g. ``rvq-codec`` to read a protocol without its codec
rows) and ``--only`` keeps only the spoof systems that contain one (bona fide trials are
always kept). Each line also gives the mean of the per-system EERs (each spoof system once,
against all bona fide trials) and the worst system. Used for the ablation tables of
``docs/training.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from audio_detect.datasets.scores import ScoreTable, read_score_file
from audio_detect.evaluation.metrics import (
    breakdown,
    cllr,
    compute_eer,
    min_cllr,
    system_average,
)


def _by_trial(table: ScoreTable) -> dict[str, tuple[str, int, float]]:
    """``{trial: (system, label, library-direction score)}``; needs system and key columns."""
    if table.systems is None or table.keys is None:
        raise SystemExit(f"{table.source}: needs SYSTEM and KEY columns (evaluate --scores-out)")
    return {
        str(u): (str(sy), int(k), float(v))
        for u, sy, k, v in zip(table.utt_ids, table.systems, table.keys, table.scores, strict=True)
    }


def main() -> None:
    """Command line."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scores", type=Path, nargs="+", help="score files")
    ap.add_argument("--mean", action="store_true", help="also score the files' mean")
    ap.add_argument("--exclude", nargs="*", default=[], help="drop spoof systems matching")
    ap.add_argument("--only", nargs="*", default=[], help="keep only spoof systems matching")
    args = ap.parse_args()
    runs = [_by_trial(read_score_file(p)) for p in args.scores]
    trials = sorted(set.intersection(*(set(r) for r in runs)))
    ref = runs[0]
    trials = [
        t for t in trials
        if ref[t][1] == 0 or (
            not any(p in ref[t][0] for p in args.exclude)
            and (not args.only or any(p in ref[t][0] for p in args.only))
        )
    ]  # fmt: skip
    y = np.array([ref[t][1] for t in trials])  # 1 = spoof
    print(f"{len(trials)} trials ({int((y == 0).sum())} bona fide, {int(y.sum())} spoof)")
    rows = [
        (str(path), np.array([r[t][2] for t in trials]))
        for path, r in zip(args.scores, runs, strict=True)
    ]
    if args.mean and len(rows) > 1:
        rows.append((f"mean of {len(rows)}", np.mean([s for _, s in rows], axis=0)))
    systems = np.array([ref[t][0] for t in trials])
    for name, llr in rows:  # library direction: higher = spoof
        eer, cost, floor = compute_eer(y, llr)[0], cllr(y, llr), min_cllr(y, llr)
        per_system = {str(k): v["eer"] for k, v in breakdown(y, llr, systems).items()}
        sa = system_average(per_system)
        print(
            f"{name:<48} EER {100 * eer:6.2f} %  Cllr {cost:.3f} (min {floor:.3f})  system mean "
            f"{100 * sa['eer_mean']:6.2f} %  worst {sa['worst_system']} {100 * sa['eer_max']:.2f} %"
        )


if __name__ == "__main__":
    main()
