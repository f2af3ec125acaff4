"""``benchmarks.stream_agreement`` compares a streamed call with offline scoring."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import stream_agreement  # noqa: E402
from benchmarks._common import FIXTURES, make_call, mulaw_bytes  # noqa: E402


def test_a_streamed_call_agrees_with_offline_within_the_stated_bound(tmp_path: Path) -> None:
    from audio_detect.detector import Detector

    det = Detector.load("lfcc-gmm-8k")
    y = make_call(20.0, 8000, sources=sorted(FIXTURES.glob("*.flac")))
    row = stream_agreement.agree_one(det, mulaw_bytes(y))
    assert row["abs_dllr"] <= stream_agreement.BOUND
    assert row["abs_dllr"] == round(abs(row["llr_live"] - row["llr_offline"]), 4)
    assert row["same_verdict"] == (row["verdict_live"] == row["verdict_offline"])
    assert row["windows_offline"] > 0 and row["windows_scored_live"] >= row["windows_live"]


def test_main_writes_the_summary(tmp_path: Path) -> None:
    import json

    out = tmp_path / "sa.json"
    argv = ["--model", "lfcc-gmm-8k", "--calls", "2", "--seconds", "10", "--out", str(out)]
    argv += ["--corpus", str(tmp_path / "no-corpus")]  # the fixtures, not ../shared
    assert stream_agreement.main(argv) == 0
    doc = json.loads(out.read_text())
    assert doc["summary"]["n_calls"] == 2 and len(doc["calls"]) == 2
    assert doc["summary"]["max_abs_dllr"] == max(c["abs_dllr"] for c in doc["calls"])
    assert doc["speech_from"] == "tests/fixtures/audio"
