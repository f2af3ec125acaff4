"""``benchmarks.scoring_speed`` times the detector it was given, row after row."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import scoring_speed  # noqa: E402
from benchmarks._common import encode, make_call  # noqa: E402


def test_staged_timing_leaves_the_detectors_backend_in_place() -> None:
    from audio_detect.detector import Detector
    from audio_detect.registry import load_model_dir

    model = load_model_dir("lfcc-gmm-8k")
    det = Detector(model)
    backend = det.backend
    data = encode(make_call(6.0, 8000), 8000, "wav")
    args = argparse.Namespace(min_reps=2, min_seconds=0.0)
    row = scoring_speed.bench_one(det, data, 6.0, args)
    assert det.backend is backend
    assert row["n_windows"] > 0
    # A second row scores through the model again: the same windows, the same verdict.
    again = scoring_speed.bench_one(det, data, 6.0, args)
    assert det.backend is backend and again["verdict"] == row["verdict"]
    assert again["stage_cpu_ms"]["model"] > 0
