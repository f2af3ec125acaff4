"""Resident memory of N concurrent live calls scored in this process, without a server.

    python scripts/stream_memory.py                # 200 calls of 30 s, the default model
    python scripts/stream_memory.py --calls 400 --seconds 60 --model lfcc-gmm-8k

What ``benchmarks/streams.py`` does to one worker, minus the sockets and the clock: N
:class:`~audio_detect.streaming.StreamingScorer` calls (8 kHz µ-law from the benchmark's
speech, starts spread over 3 s of audio, 20 ms frames), batched as ``api/live.py`` does
(a call's audio goes to its scorer when it completes the next check, or after 1 s),
each flush run in a pool of ``--threads`` scoring threads (the service's
``max_concurrent_scoring``), as fast as the CPU allows. Prints ``VmRSS`` / ``VmHWM``
of this process as the calls go on, the bytes one call's audio buffers hold, and how much
of what stays after the calls end ``malloc_trim`` gives back (freed but fragmented heap).
Memory figures do not depend on CPU contention; the wall times printed do.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import ctypes
import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def memory_mb() -> dict[str, float]:
    """``VmRSS``, ``VmHWM`` and ``RssAnon`` of this process, MB (Linux)."""
    out: dict[str, float] = {}
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon"):
                out[key] = int(value.split()[0]) / 1024
    return out


def show(tag: str) -> dict[str, float]:
    """Print and return :func:`memory_mb` after ``tag``."""
    m = memory_mb()
    print(f"{tag:34s} RSS {m['VmRSS']:7.1f}  peak {m['VmHWM']:7.1f}  anon {m['RssAnon']:7.1f} MB")
    return m


def main() -> None:
    """Command line."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=30.0, help="length of each call")
    ap.add_argument("--threads", type=int, default=2, help="scoring threads")
    ap.add_argument("--model", help="model name or path (default: the default model)")
    args = ap.parse_args()

    from audio_detect.detector import Detector
    from audio_detect.registry import load_model_dir
    from audio_detect.streaming import StreamingScorer
    from benchmarks._common import make_call, mulaw_bytes, speech_sources

    audio = mulaw_bytes(make_call(args.seconds, 8000, sources=speech_sources()))
    detector = Detector(load_model_dir(args.model), intra_op_threads=1)
    warm = StreamingScorer(detector, encoding="mulaw", sample_rate=8000)
    warm.push(audio[:24000])
    warm.finish()
    base = show("model loaded, one call scored")

    frame, hold, n = 160, 8000, args.calls
    starts = [round(i * 3.0 / n * 50) for i in range(n)]  # in 20 ms frames
    n_frames = len(audio) // frame
    scorers = [StreamingScorer(detector, encoding="mulaw", sample_rate=8000) for _ in range(n)]
    pending = [bytearray() for _ in range(n)]
    flush_at = [1] * n
    busy: list[cf.Future[object] | None] = [None] * n
    pool = cf.ThreadPoolExecutor(args.threads, thread_name_prefix="scoring")
    t0 = time.monotonic()
    for step in range(max(starts) + n_frames):
        for i in range(n):
            k = step - starts[i]
            if not 0 <= k < n_frames:
                continue
            pending[i] += audio[k * frame : (k + 1) * frame]
            job = busy[i]
            if (job is None or job.done()) and len(pending[i]) >= flush_at[i]:
                if job is not None:
                    job.result()
                    flush_at[i] = min(max(1, scorers[i].input_samples_to_next_check), hold)
                busy[i] = pool.submit(scorers[i].push, bytes(pending[i]))
                pending[i].clear()
        if step % 50 == 0:  # one second of audio: let the pool catch up, as a server must
            for job in busy:
                if job is not None:
                    job.result()
        if step % 500 == 0:
            show(f"audio {step / 50:5.1f} s (wall {time.monotonic() - t0:4.0f} s)")
    for i, job in enumerate(busy):
        if job is not None:
            job.result()
        if pending[i]:
            scorers[i].push(bytes(pending[i]))
    finals = list(pool.map(lambda s: s.finish(), scorers))
    peak = show(f"{n} calls finished")
    first = scorers[0]
    fz = first._frozen
    # held_bytes: the speech buffer's capacity (before it existed, the held speech array)
    held = first._buf.nbytes + (getattr(fz, "held_bytes", fz.speech.nbytes) if fz else 0)
    print(f"audio buffers of one call: {held / 1024:.0f} kB; first call: "
          f"{finals[0].decision.verdict} (LLR {finals[0].decision.llr:.6f})")  # fmt: skip
    print(f"peak - before the calls: {peak['VmHWM'] - base['VmRSS']:.1f} MB")
    del scorers, finals, first, fz
    gc.collect()
    show("calls dropped")
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        show("after malloc_trim(0)")


if __name__ == "__main__":
    main()
