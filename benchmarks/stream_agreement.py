"""Live vs offline agreement: the final LLR of a streamed call against ``score_file``.

Each call is a mix of speech utterances with pauses (:func:`benchmarks._common.make_call`
over the corpus's bona fide speech when ``../shared/corpus`` is present, else the committed
fixtures), 8 kHz G.711 µ-law, streamed in 20 ms frames through
:class:`~audio_detect.streaming.StreamingScorer` (the default ``frozen`` mode) and scored
offline on the same bytes. Reported per call: ``|ΔLLR|`` of the final verdicts, whether the
verdicts agree, and the windows each side scored. The stated bound (docs/api.md,
``tests/streaming/test_streaming.py``) is ``|ΔLLR| <= 0.5`` with the same verdict; this is
what the shipped model measures against it, which the tests (on a tiny GMM) cannot.

Run: ``python -m benchmarks.stream_agreement [--model NAME] [--calls 40] [--seconds 40]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import (
    DEFAULT_CORPUS,
    describe_machine,
    emit,
    header,
    make_call,
    model_dir,
    model_info,
    mulaw_bytes,
    speech_origin,
    speech_sources,
    table,
)

#: The stated bound of frozen mode (docs/api.md, "Streaming vs offline agreement").
BOUND = 0.5
FRAME_BYTES = 160  # 20 ms of 8 kHz µ-law


def agree_one(detector: Any, data: bytes) -> dict[str, Any]:
    """Stream ``data`` (8 kHz µ-law) and score it offline; the two final decisions."""
    from audio_detect.audio.raw import RawFormat
    from audio_detect.streaming import StreamingScorer

    offline = detector.score_file(data, raw=RawFormat("mulaw", 8000))
    scorer = StreamingScorer(detector, encoding="mulaw", sample_rate=8000)
    for i in range(0, len(data), FRAME_BYTES):
        scorer.push(data[i : i + FRAME_BYTES])
    live = scorer.finish().decision
    return {
        "llr_offline": round(float(offline.llr), 4),
        "llr_live": round(float(live.llr), 4),
        "abs_dllr": round(abs(float(live.llr) - float(offline.llr)), 4),
        "verdict_offline": offline.verdict,
        "verdict_live": live.verdict,
        "same_verdict": offline.verdict == live.verdict,
        "windows_offline": len(offline.windows),
        "windows_live": len(live.windows),
        "windows_scored_live": scorer.windows_scored,
        "speech_seconds_offline": round(float(offline.speech_seconds), 2),
        "speech_seconds_live": round(float(live.speech_seconds), 2),
    }


def run(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    from audio_detect.detector import Detector

    model = model_dir(args.model)
    detector = Detector.load(model.path)
    sources = speech_sources(args.corpus)
    calls = []
    for seed in range(args.calls):
        y = make_call(args.seconds, 8000, sources=sources[seed:] + sources[:seed], seed=seed)
        calls.append({"seed": seed, **agree_one(detector, mulaw_bytes(y))})
    dllr = np.array([c["abs_dllr"] for c in calls])
    return {
        **header("stream_agreement", argv, quick=False),
        "model": model_info(model),
        "speech_from": speech_origin(sources),
        "call_seconds": args.seconds,
        "bound": BOUND,
        "calls": calls,
        "summary": {
            "n_calls": len(calls),
            "max_abs_dllr": round(float(dllr.max()), 4) if len(dllr) else None,
            "median_abs_dllr": round(float(np.median(dllr)), 4) if len(dllr) else None,
            "same_verdict": int(sum(c["same_verdict"] for c in calls)),
            "within_bound": int(np.sum(dllr <= BOUND)),
        },
    }


def render(doc: dict[str, Any]) -> str:
    s, m = doc["summary"], doc["model"]
    rows = [
        [c["seed"], c["llr_offline"], c["llr_live"], c["abs_dllr"], c["verdict_offline"],
         c["verdict_live"], c["windows_offline"], c["windows_scored_live"]]
        for c in doc["calls"]
    ]  # fmt: skip
    head = (
        f"`{doc['command']}`: {describe_machine(doc['machine'])}; model `{m['name']}` "
        f"{m['version']}; {s['n_calls']} calls of {doc['call_seconds']:g} s, 8 kHz µ-law in "
        f"20 ms frames, speech from {doc['speech_from']}.\n\n"
        f"**max |ΔLLR| {s['max_abs_dllr']}** (median {s['median_abs_dllr']}; bound "
        f"{doc['bound']}), same verdict on {s['same_verdict']} of {s['n_calls']}, within "
        f"the bound {s['within_bound']} of {s['n_calls']}.\n"
    )
    return head + "\n" + table(
        ["call", "offline LLR", "live LLR", "abs ΔLLR", "offline verdict", "live verdict",
         "offline windows", "live windows scored"],
        rows,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="model name or path (default: models/DEFAULT)")
    p.add_argument("--calls", type=int, default=40, help="number of calls (default 40)")
    p.add_argument("--seconds", type=float, default=40.0, help="length of each call")
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS,
                   help="speech corpus (default ../shared/corpus)")  # fmt: skip
    p.add_argument("--out", default=None, help="JSON path (default benchmarks/results/...)")
    args = p.parse_args(argv)
    if args.calls < 1 or args.seconds < 5:
        p.error("--calls must be >= 1 and --seconds >= 5")
    return emit("stream_agreement", run(args, argv), render, out=args.out, quick=False)


if __name__ == "__main__":
    raise SystemExit(main())
