"""Mean and range over seeds of the metrics ``audio-detect train`` stored in model manifests.

Usage: python scripts/seed_spread.py MODEL_DIR [MODEL_DIR ...]

Each directory comes from ``audio-detect train --config CONFIG --seed N --out DIR``; the
table lists every split/condition of ``manifest.json["metrics"]`` (dev, eval and the eval
channel conditions) with EER, minDCF, actDCF and Cllr per seed, their mean and range.
"""

from __future__ import annotations

import sys

from audio_detect.registry import read_manifest

KEYS = ("eer", "min_dcf", "act_dcf", "cllr")


def main(dirs: list[str]) -> int:
    runs = []
    for d in dirs:
        m = read_manifest(d)
        runs.append((m["training"]["seed"], m["metrics"]))
    runs.sort(key=lambda r: r[0])
    seeds = [s for s, _ in runs]
    print(f"seeds {seeds}")
    print("| split / condition | metric | " + " | ".join(f"seed {s}" for s in seeds)
          + " | mean | range |")  # fmt: skip
    print("|---|---|" + "---|" * (len(seeds) + 2))
    for cond in runs[0][1]:
        for key in KEYS:
            vals = [m.get(cond, {}).get(key) for _, m in runs]
            if any(v is None for v in vals):
                continue
            scale, nd = (100.0, 2) if key == "eer" else (1.0, 3)
            cells = [f"{scale * v:.{nd}f}" for v in vals]
            mean = scale * sum(vals) / len(vals)
            span = f"{scale * min(vals):.{nd}f}-{scale * max(vals):.{nd}f}"
            row = f"| {cond} | {key} | " + " | ".join(cells) + f" | {mean:.{nd}f} | {span} |"
            print(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
