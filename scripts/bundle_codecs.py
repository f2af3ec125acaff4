"""Copy a corpus build's trained codecs into the bundle the build reuses.

``audio-detect corpus build`` trains three small RVQ codecs for its ``neural_codec``
source (about 50 min of a two-hour build on 2 cores) unless ``audio_detect/corpus/assets/codecs``
holds one trained with the same config on the same speech. This script re-plans the build
with the options given (nothing is rendered but the codecs' training speech), checks
each codec of ``CORPUS/codecs`` against the generator's config and, when recorded, its
training speech, then writes it to the bundle with the sha256 of that speech and of its
weights. A build whose plan selects other training speech (other sources, seed or
corpus) does not match the bundle and trains its own codecs, as before.

Run (the options of the build that trained the codecs)::

    python scripts/bundle_codecs.py --corpus data/corpus --shared-corpus ../shared/corpus
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

from audio_detect.corpus.builder import BuildOptions, plan_corpus
from audio_detect.corpus.codec import (
    bundled_codec,
    read_codec_doc,
    speech_sha256,
    write_codec_doc,
)
from audio_detect.corpus.generators import GENERATORS, PlanContext, load_builtin_generators
from audio_detect.corpus.generators.neural_codec import (
    BUNDLED_CODECS,
    CODECS,
    TRAIN_SECONDS,
    NeuralCodecGenerator,
    _dur,
    _training_speech,
)


def training_digest(opts: BuildOptions) -> tuple[str, float]:
    """sha256 and seconds of the speech the build of ``opts`` trains its codecs on."""
    seen: dict[str, Any] = {}

    class _Digest(NeuralCodecGenerator):
        def prepare(self, ctx: PlanContext, *, out_dir: Path, workers: int = 1) -> None:
            speech = _training_speech(ctx, seconds=TRAIN_SECONDS)
            seen["digest"] = speech_sha256(speech)
            seen["seconds"] = _dur(speech)

    load_builtin_generators()
    real = GENERATORS["neural_codec"]
    GENERATORS["neural_codec"] = _Digest
    try:
        plan_corpus(opts, prepare=True)
    finally:
        GENERATORS["neural_codec"] = real
    if "digest" not in seen:
        raise SystemExit("the plan has no neural_codec source (torch missing?)")
    return seen["digest"], seen["seconds"]


def main() -> int:
    """Command line."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, required=True, help="the build's --out folder")
    ap.add_argument("--shared-corpus", type=Path, help="the build's --shared-corpus")
    ap.add_argument("--sources", help="the build's --sources (comma-separated)")
    ap.add_argument("--seed", type=int, default=0, help="the build's --seed")
    ap.add_argument("--out", type=Path, default=BUNDLED_CODECS, help="bundle folder")
    args = ap.parse_args()
    opts = BuildOptions(
        out_dir=args.corpus,
        sources=args.sources.split(",") if args.sources else None,
        shared_corpus=args.shared_corpus,
        seed=args.seed,
    )
    digest, seconds = training_digest(opts)
    print(f"training speech: {seconds:.1f} s, sha256 {digest}")
    bad = 0
    for cfg, split, _ in CODECS:
        src = args.corpus / "codecs" / cfg.name
        saved, info = read_codec_doc(src)  # weights checked when their sha256 is recorded
        if saved != cfg:
            print(f"{cfg.name}: trained with another config; not bundled", file=sys.stderr)
            bad += 1
            continue
        if info.get("train_speech_sha256", digest) != digest:
            print(
                f"{cfg.name}: trained on other speech than this plan's; not bundled",
                file=sys.stderr,
            )
            bad += 1
            continue
        dst = args.out / cfg.name
        dst.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / "codec.safetensors", dst / "codec.safetensors")
        write_codec_doc(dst, cfg, {**info, "train_speech_sha256": digest, "split": split})
        if bundled_codec(cfg, digest, args.out) is None:
            raise SystemExit(f"{dst}: written but not accepted by bundled_codec")
        size = (dst / "codec.safetensors").stat().st_size / 1e6
        print(f"{cfg.name} ({split}): {size:.2f} MB, {info.get('wall_seconds')} s of training")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
