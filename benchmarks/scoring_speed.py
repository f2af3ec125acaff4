"""Offline scoring speed per core, end to end, next to the decode + resample + STFT floor.

For each model (every directory in ``models/``, default model first, or ``--model``) and
each input rate (8 and 16 kHz) and container (WAV PCM16, FLAC), a test call of
``--seconds`` of speech (utterances from ``--corpus`` or the test fixtures, with pauses)
is encoded **in memory**, then timed on one core:

* **end to end**: ``Detector.score_file(bytes)``: decode, resample to the model rate,
  speech detection, windows, model, aggregation and calibration;
* **floor**: decode + resample to the model rate + one magnitude STFT (librosa, the
  model's ``n_fft``/``win_length``/``hop_length``) of the same bytes: what any
  spectral detector has to pay;
* **stages**: the Detector's steps one by one (``load_audio``, ``resample``,
  ``speech_windows``, ``backend.score_windows``, ``decide`` on the precomputed scores).

Speed is the real-time factor per core: audio seconds / CPU seconds of this process
(``x`` real time), with ``OMP_NUM_THREADS=1`` and friends (the script re-executes itself
with them) and onnxruntime ``intra_op_num_threads=1``. The ratio to the floor is
end-to-end CPU time / floor CPU time.

Run::

    python -m benchmarks.scoring_speed              # ~1-2 min per model
    python -m benchmarks.scoring_speed --quick      # a few seconds
    python -m benchmarks.scoring_speed --model lfcc-gmm-8k --rates 8000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import (
    DEFAULT_CORPUS,
    REPO,
    emit,
    encode,
    header,
    make_call,
    model_dir,
    model_info,
    shipped_models,
    speech_origin,
    speech_sources,
    table,
)

NAME = "scoring_speed"
THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)
STAGES = ("decode", "resample", "vad", "model", "aggregate")


def pin_one_thread(argv: list[str]) -> None:
    """Re-execute this script with every math library limited to one thread.

    The variables must be set before numpy/onnxruntime load their thread pools, which
    happens at import time, so setting them here would be too late for this process.
    """
    if all(os.environ.get(v) == "1" for v in THREAD_VARS):
        return
    env = dict(os.environ, **dict.fromkeys(THREAD_VARS, "1"))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    os.execve(sys.executable, [sys.executable, "-m", f"benchmarks.{NAME}", *argv], env)


def single_thread_backend(model: Any) -> Any:
    """The model's window scorer with onnxruntime limited to one intra-op thread.

    ``build_backend`` keeps onnxruntime's default (one thread per core); ``OnnxBackend``
    takes ``intra_op_threads``; a fusion's members are rebuilt the same way.
    """
    from audio_detect.detector import OnnxBackend, build_backend
    from audio_detect.registry import load_model_dir

    if model.format == "onnx":
        return OnnxBackend(model, intra_op_threads=1)
    backend = build_backend(model)
    if model.format == "fusion":  # FusionBackend verified the members; rebuild them
        backend.members = [
            single_thread_backend(load_model_dir(e["name"], root=model.path.parent))
            for e in model.manifest["members"]
        ]
    return backend


class _Fixed:
    """Backend returning precomputed raw scores (times aggregation alone)."""

    def __init__(self, raw: np.ndarray) -> None:
        self.raw = raw

    def score_windows(self, windows: np.ndarray) -> np.ndarray:
        return self.raw


def repeat(
    fn: Callable[[], Any], *, min_reps: int, min_seconds: float
) -> tuple[list[float], list[float]]:
    """Run ``fn`` once to warm up, then at least ``min_reps`` times and ``min_seconds``.

    Returns per-run (wall, CPU) seconds.
    """
    fn()
    walls: list[float] = []
    cpus: list[float] = []
    t_end = time.perf_counter() + min_seconds
    while len(walls) < min_reps or (time.perf_counter() < t_end and len(walls) < 10_000):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        cpus.append(time.process_time() - c0)
        walls.append(time.perf_counter() - w0)
    return walls, cpus


def staged_run(det: Any, data: bytes, totals: dict[str, list[float]]) -> dict[str, Any]:
    """One pass through the Detector's steps, adding (wall, CPU) per stage to ``totals``."""
    from audio_detect.audio.io import load_audio, resample

    sr = det.sample_rate
    marks = [(time.perf_counter(), time.process_time())]

    def lap(stage: str) -> None:
        marks.append((time.perf_counter(), time.process_time()))
        (w0, c0), (w1, c1) = marks[-2], marks[-1]
        totals[stage][0] += w1 - w0
        totals[stage][1] += c1 - c0

    audio = load_audio(data)
    lap("decode")
    y = audio.samples if audio.sr == sr else resample(audio.samples, orig_sr=audio.sr, target_sr=sr)
    y = np.asarray(y, dtype=np.float32)
    lap("resample")
    windows = det.speech_windows(y)
    lap("vad")
    raw = det.backend.score_windows(windows.stacked()) if len(windows) else np.zeros(0)
    lap("model")
    # The per-call backend hook: the detector's own backend stays in place (setting
    # ``backend`` on a copy would replace it in the shared pipeline for later rows).
    decision = det.decide(windows, duration=len(y) / sr, backend=_Fixed(raw))
    lap("aggregate")
    return {
        "verdict": decision.verdict,
        "n_windows": len(windows),
        "speech_seconds": decision.speech_seconds,
    }


def floor_run(data: bytes, sr: int, feature: Any) -> None:
    """Decode + resample to ``sr`` + one magnitude STFT with the model's frame settings."""
    import librosa

    from audio_detect.audio.io import load_audio, resample

    audio = load_audio(data)
    y = audio.samples if audio.sr == sr else resample(audio.samples, orig_sr=audio.sr, target_sr=sr)
    n_fft = max(feature.n_fft, feature.win_length)
    np.abs(
        librosa.stft(y, n_fft=n_fft, hop_length=feature.hop_length, win_length=feature.win_length)
    )


def threads_now() -> int:
    """Threads of this process (``/proc/self/status``)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            return next(int(ln.split()[1]) for ln in fh if ln.startswith("Threads:"))
    except (OSError, StopIteration):
        return -1


def bench_one(det: Any, data: bytes, seconds: float, args: argparse.Namespace) -> dict[str, Any]:
    """End to end, floor and stages for one encoded call."""
    sr = det.sample_rate
    reps = {"min_reps": args.min_reps, "min_seconds": args.min_seconds}
    e2e_w, e2e_c = repeat(lambda: det.score_file(data), **reps)
    _, fl_c = repeat(lambda: floor_run(data, sr, det.model.feature), **reps)
    totals = {s: [0.0, 0.0] for s in STAGES}
    info = staged_run(det, data, {s: [0.0, 0.0] for s in STAGES})  # warm-up
    n_staged = max(args.min_reps, min(len(e2e_c), 200))
    for _ in range(n_staged):
        staged_run(det, data, totals)
    e2e_cpu, fl_cpu = float(np.mean(e2e_c)), float(np.mean(fl_c))
    stage_cpu = {s: totals[s][1] / n_staged for s in STAGES}
    return {
        **info,
        "reps": len(e2e_c),
        "floor_reps": len(fl_c),
        "stage_reps": n_staged,
        "e2e_cpu_ms": round(e2e_cpu * 1e3, 2),
        "e2e_wall_ms": round(np.mean(e2e_w) * 1e3, 2),
        "rtf_cpu": round(seconds / e2e_cpu, 1),
        "rtf_cpu_best": round(seconds / min(e2e_c), 1),
        "rtf_wall": round(seconds / float(np.mean(e2e_w)), 1),
        "floor_cpu_ms": round(fl_cpu * 1e3, 2),
        "floor_rtf_cpu": round(seconds / fl_cpu, 1),
        "ratio_to_floor": round(e2e_cpu / fl_cpu, 2),
        "cpu_over_wall": round(sum(e2e_c) / sum(e2e_w), 2),
        "stage_cpu_ms": {s: round(v * 1e3, 2) for s, v in stage_cpu.items()},
        "stage_wall_ms": {s: round(totals[s][0] / n_staged * 1e3, 2) for s in STAGES},
        "stages_sum_cpu_ms": round(sum(stage_cpu.values()) * 1e3, 2),
    }


def run(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    """All models x rates x containers."""
    from audio_detect.detector import Detector

    sources = speech_sources(Path(args.corpus) if args.corpus else None)
    doc = header(NAME, argv, quick=args.quick)
    doc["call"] = {
        "seconds": args.seconds,
        "speech_from": speech_origin(sources),
        "source_files": len(sources),
    }
    calls = {sr: make_call(args.seconds, sr, sources=sources) for sr in args.rates}
    doc["rows"] = []
    for name in args.model or shipped_models():
        model = model_dir(name)
        det = Detector(model)
        det.backend = single_thread_backend(model)
        for sr in args.rates:
            for container in args.containers:
                data = encode(calls[sr], sr, container)
                row = {
                    "model": model_info(model),
                    "input_sr": sr,
                    "container": container,
                    "bytes": len(data),
                }
                row.update(bench_one(det, data, args.seconds, args))
                doc["rows"].append(row)
                print(
                    f"{model.name} {sr} Hz {container}: {row['rtf_cpu']:.0f}x RT/core, "
                    f"floor {row['floor_rtf_cpu']:.0f}x, ratio {row['ratio_to_floor']}",
                    flush=True,
                )
    doc["threads"] = {
        "process_threads": threads_now(),
        "env": {v: os.environ.get(v) for v in THREAD_VARS},
        "pools": thread_pools(),
        "onnxruntime_intra_op_threads": 1,
    }
    return doc


def thread_pools() -> list[dict[str, Any]]:
    """Native thread pools (BLAS, OpenMP) and their sizes, as threadpoolctl sees them."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [{k: p.get(k) for k in ("internal_api", "num_threads")} for p in threadpool_info()]


def render(doc: dict[str, Any]) -> str:
    """The Markdown table of a result file."""
    rows = []
    for r in doc["rows"]:
        st = r["stage_cpu_ms"]
        rows.append(
            [
                f"{r['model']['name']} {r['model']['version']}",
                f"{r['input_sr'] // 1000} kHz",
                r["container"],
                f"**{r['rtf_cpu']:.0f}x**",
                f"{r['floor_rtf_cpu']:.0f}x",
                f"**{r['ratio_to_floor']:.2f}**",
                r["e2e_cpu_ms"],
                *(st[s] for s in STAGES),
                r["n_windows"],
            ]
        )
    heads = [
        "model",
        "input",
        "file",
        "end to end (x RT/core)",
        "floor (x RT/core)",
        "ratio to floor",
        "e2e ms",
        "decode ms",
        "resample ms",
        "VAD + cut ms",
        "windows -> model ms",
        "aggregate ms",
        "windows",
    ]
    return table(heads, rows)


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    argv = sys.argv[1:] if argv is None else argv
    pin_one_thread(argv)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--model",
        action="append",
        help="model name or path (repeatable); default: every model in models/",
    )
    ap.add_argument("--quick", action="store_true", help="20 s call, WAV only, few reps")
    ap.add_argument("--seconds", type=float, help="call length (default 60, quick 20)")
    ap.add_argument("--rates", type=int, nargs="+", default=[8000, 16000])
    ap.add_argument("--containers", nargs="+", choices=("wav", "wav_mulaw", "flac"))
    ap.add_argument("--min-reps", type=int, help="runs per measurement (default 5, quick 2)")
    ap.add_argument("--min-seconds", type=float, help="time per measurement (default 5, quick 0.3)")
    ap.add_argument(
        "--corpus",
        default=str(DEFAULT_CORPUS),
        help="speech corpus with manifest.csv; fixtures when absent",
    )
    ap.add_argument("--out", help="JSON path (default: benchmarks/results/...)")
    args = ap.parse_args(argv)
    q = args.quick
    args.seconds = args.seconds or (20.0 if q else 60.0)
    args.containers = args.containers or (["wav"] if q else ["wav", "flac"])
    args.min_reps = args.min_reps or (2 if q else 5)
    args.min_seconds = args.min_seconds if args.min_seconds is not None else (0.3 if q else 5.0)
    return emit(NAME, run(args, argv), render, out=args.out, quick=q)


if __name__ == "__main__":
    raise SystemExit(main())
