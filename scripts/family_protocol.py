"""Write a protocol of ``modern``'s bona fide rows and every spoof of one family, all splits.

    python scripts/family_protocol.py data/corpus --family neural-codec
    audio-detect evaluate --manifest data/corpus/protocols/neural-codec_all.csv \
        --model whisper-cm-8k --workers 2

For a model that never trained on a family (the shipped default and the ``neural_codec``
source, for one), every system of that family is unseen, whatever split the corpus put it
in: scoring all of them against ``modern``'s unseen bona fide speech measures the family
on more systems than ``modern`` alone holds. Never use it for a model trained on the
build's train split with that family in it.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("corpus", type=Path, help="a corpus build (with manifest.csv and protocols/)")
    ap.add_argument("--family", required=True, help="the family column's value")
    ap.add_argument("--out", type=Path, help="default: <corpus>/protocols/<family>_all.csv")
    args = ap.parse_args()

    protocols = args.corpus / "protocols"
    with (protocols / "modern.csv").open(encoding="utf-8", newline="") as fh:
        modern = list(csv.DictReader(fh))
    with (args.corpus / "manifest.csv").open(encoding="utf-8", newline="") as fh:
        manifest = list(csv.DictReader(fh))
    if not modern:
        raise SystemExit(f"{protocols / 'modern.csv'} has no rows")
    fields = list(modern[0])
    rows = [r for r in modern if r["label"] == "bonafide"]
    spoofs = [r for r in manifest if r["family"] == args.family and r["label"] != "bonafide"]
    if not spoofs:
        raise SystemExit(f"no spoof of family {args.family!r} in {args.corpus / 'manifest.csv'}")
    # Manifest paths are relative to the manifest; protocol paths to protocols/.
    rows += [{**{k: r.get(k, "") for k in fields}, "path": f"../{r['path']}"} for r in spoofs]
    out = args.out or protocols / f"{args.family}_all.csv"
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    print(f"{out}: {len(rows) - len(spoofs)} bona fide, {len(spoofs)} {args.family} spoofs")


if __name__ == "__main__":
    main()
