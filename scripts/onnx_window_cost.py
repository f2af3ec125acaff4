"""CPU cost of one scoring window of an ONNX model, and where it goes (per operator type).

Runs the graph of a model directory (or a bare ``.onnx`` file) on random speech-level
windows with onnxruntime on one thread, reports milliseconds per window and the share of
each operator type from onnxruntime's profiler. Used to choose the int8 export
(``docs/training.md``); the end-to-end speed is ``python -m benchmarks.scoring_speed``.

Run::

    python scripts/onnx_window_cost.py models/whisper-cm-8k
    python scripts/onnx_window_cost.py path/to/model.onnx --seconds 4 --sr 8000 --batch 1
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from audio_detect.registry import describe_model_dir


def main() -> None:
    """Command line."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", type=Path, help="model directory or .onnx file")
    ap.add_argument("--seconds", type=float, default=4.0, help="window length (default 4)")
    ap.add_argument("--sr", type=int, help="sample rate (default: the manifest's, else 8000)")
    ap.add_argument("--batch", type=int, default=8, help="windows per call (default 8)")
    ap.add_argument("--repeats", type=int, default=10, help="timed calls (default 10)")
    ap.add_argument("--top", type=int, default=10, help="operator types shown (default 10)")
    args = ap.parse_args()
    path, sr = args.model, args.sr
    if path.is_dir():
        spec = describe_model_dir(path).spec  # the registry's validated manifest
        sr = sr or spec.model_rate
        path = path / (spec.weights or "model.onnx")
    sr = sr or 8000

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.enable_profiling = True
    opts.profile_file_prefix = os.path.join(tempfile.gettempdir(), "onnx_window_cost")
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    rng = np.random.default_rng(0)
    x = (0.05 * rng.standard_normal((args.batch, round(args.seconds * sr)))).astype(np.float32)
    for _ in range(3):
        session.run(None, {name: x})
    t0 = time.perf_counter()
    for _ in range(args.repeats):
        session.run(None, {name: x})
    ms = (time.perf_counter() - t0) / (args.repeats * args.batch) * 1e3
    profile = Path(session.end_profiling())
    per_op: collections.Counter[str] = collections.Counter()
    for event in json.loads(profile.read_text(encoding="utf-8")):
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            per_op[event["args"].get("op_name", "?")] += event["dur"]
    profile.unlink()
    total = sum(per_op.values()) or 1
    where = f"{args.seconds:g} s window at {sr} Hz (batch {args.batch}, 1 thread)"
    print(f"{path}: {ms:.2f} ms per {where}")
    for op, us in per_op.most_common(args.top):
        print(f"  {op:<24} {100 * us / total:5.1f} %")


if __name__ == "__main__":
    main()
