"""How many concurrent live calls the service keeps up with: ``/v1/stream`` ramp.

Starts the real service as ``benchmarks/load.py`` does (``LocalServer``, ``max_streams``
raised above the largest step), then for each N in the ramp runs N concurrent WebSocket
calls (``load.ws_load``): 8 kHz G.711 µ-law in 20 ms frames sent at real-time pace,
speech with pauses, starts spread evenly over ``--stagger`` seconds (real calls do not
start in the same millisecond; by default one rolling-verdict interval).

Score-update latency: for each rolling ``score`` message, the time from sending the
frame that completed the audio it covers (its ``audio_seconds``) to receiving it. The
server hands audio to its scoring pool when it completes a check (or after at most 1 s)
and sends a verdict as soon as its flush is scored (until 2026-12-07: with the call's
next frame, up to 20 ms later). A step passes when every call completed with a final
verdict and the p99 latency is below ``--budget-ms`` (200); the ramp stops at the first
failing step (unless ``--keep-going``) and the result is the largest passing N. Calls
refused at admission (``overloaded``: the server at its measured capacity,
``api/capacity.py``) are counted apart: such a step passes when every admitted call
completed in budget, and its N is the number of calls admitted.

The clients run in this process on the same machine: the client's CPU use and how late
it sent frames against their real-time schedule (``send lateness``) are recorded with
each step; a late client inflates the latencies it measures.

Run::

    python -m benchmarks.streams                 # ramp 25 50 100 200 400, 30 s calls
    python -m benchmarks.streams --quick         # 2 and 4 streams, 8 s calls
    python -m benchmarks.streams --workers 1 2   # the ramp for 1 and for 2 worker processes
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import (
    DEFAULT_CORPUS,
    emit,
    header,
    make_call,
    model_dir,
    model_info,
    mulaw_bytes,
    raise_fd_limit,
    speech_origin,
    speech_sources,
    table,
)
from benchmarks.load import LocalServer, ws_load

NAME = "streams"


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (``/proc/<pid>/stat``)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def server_cpu_seconds(server: LocalServer) -> float:
    """CPU seconds of the serving processes (every worker with ``--workers``)."""
    return sum(proc_cpu_seconds(pid) for pid in server.worker_pids())


def capacity_estimate(server: LocalServer) -> float | None:
    """The server's ``audio_detect_stream_capacity_calls`` gauge (one worker's; None if absent).

    What its admission rule (``api/capacity.py``) thinks one worker keeps up with, from the
    measured cost of the live audio it has scored; -1 until measured.
    """
    import re
    import urllib.request

    try:
        with urllib.request.urlopen(server.url + "/metrics", timeout=10) as resp:
            text = resp.read().decode("utf-8")
    except OSError:
        return None
    m = re.search(r"^audio_detect_stream_capacity_calls ([-+0-9.eE]+)$", text, re.MULTILINE)
    return float(m.group(1)) if m else None


def step(server: LocalServer, audio: bytes, n: int, args: argparse.Namespace) -> dict[str, Any]:
    """One ramp step: ``n`` concurrent calls, plus client/server CPU and memory."""
    srv0, cli0, t0 = server_cpu_seconds(server), time.process_time(), time.monotonic()
    res = asyncio.run(
        ws_load(
            server.url,
            server.keys["both"],
            streams=n,
            seconds=args.call_seconds,
            audio=audio,
            stagger_seconds=args.stagger,
        )
    )
    wall = time.monotonic() - t0
    p99 = res["verdict_lag"]["p99_ms"]
    res["failures"] = res["failures"][:5]  # a sample is enough
    res |= {
        # Calls the server refused at admission (overloaded) are not failures: the step
        # passes when every admitted call completed within the budget.
        "passed": res["completed"] > 0
        and res["completed"] + res.get("refused", 0) == n
        and p99 is not None
        and p99 < args.budget_ms,
        "server_cpu_cores": round((server_cpu_seconds(server) - srv0) / wall, 2),
        "client_cpu_cores": round((time.process_time() - cli0) / wall, 2),
        "server_rss_mb": round(server.rss_mb(), 1),
        "server_peak_rss_mb": round(server.peak_rss_mb(), 1),
        "capacity_estimate_calls": capacity_estimate(server),
        "load_avg_after": [round(x, 2) for x in os.getloadavg()],
    }
    return res


def run(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    """The ramp on one server per worker count."""
    raise_fd_limit()  # N client sockets here, N in the server (inherits the limit)
    model = model_dir(args.model)
    sources = speech_sources(Path(args.corpus) if args.corpus else None)
    audio = mulaw_bytes(make_call(args.call_seconds, 8000, sources=sources))
    # /metrics without a key: the step records the server's own capacity estimate.
    settings = {
        "max_streams": max(args.ramp) + 16,
        "metrics_public": True,
        **dict(kv.split("=", 1) for kv in args.server_setting),
    }
    doc = header(NAME, argv, quick=args.quick)
    doc |= {
        "model": model_info(model),
        "budget_ms": args.budget_ms,
        "call_seconds": args.call_seconds,
        "stagger_seconds": args.stagger,
        "frame_ms": 20,
        "encoding": "mulaw",
        "sample_rate": 8000,
        "speech_from": speech_origin(sources),
        "server_settings": settings,
        "steps": [],
    }
    runs = [_ramp(args, model, audio, settings, workers) for workers in args.workers]
    doc |= runs[0]  # the first worker count (1 by default) fills the main table
    doc["by_workers"] = runs
    doc["cores"] = os.cpu_count()
    return doc


def _ramp(
    args: argparse.Namespace, model: Any, audio: bytes, settings: dict[str, Any], workers: int
) -> dict[str, Any]:
    """The ramp on one server with ``workers`` processes."""
    doc: dict[str, Any] = {"workers": workers, "steps": []}
    settings = {**settings, "max_concurrent_scoring": 1} if workers > 1 else settings
    with tempfile.TemporaryDirectory(prefix="bench-streams-") as tmp:
        server = LocalServer(model.path, Path(tmp), settings=settings, workers=workers)
        server.start()
        try:
            doc["memory_idle"] = {
                "rss_mb": round(server.rss_mb(), 1),
                "peak_rss_mb": round(server.peak_rss_mb(), 1),
            }
            asyncio.run(
                ws_load(
                    server.url, server.keys["both"], streams=1, seconds=3.0, audio=audio[:24000]
                )
            )  # warm-up
            for n in args.ramp:
                res = step(server, audio, n, args)
                doc["steps"].append(res)
                lag = res["verdict_lag"]
                print(
                    f"{workers} worker(s), {n} streams: {res['completed']}/{n} completed, "
                    f"{res.get('refused', 0)} refused, capacity estimate "
                    f"{res['capacity_estimate_calls']}, lag p50 {lag['p50_ms']} "
                    f"p99 {lag['p99_ms']} ms, server {res['server_cpu_cores']} cores, "
                    f"client {res['client_cpu_cores']} cores, "
                    f"{'pass' if res['passed'] else 'FAIL'}",
                    flush=True,
                )
                if not res["passed"] and not args.keep_going:
                    break
        finally:
            server.stop()
    passing = [s["completed"] for s in doc["steps"] if s["passed"]]
    doc["max_streams_within_budget"] = max(passing) if passing else 0
    doc["ramp_exhausted"] = (
        bool(doc["steps"])
        and doc["steps"][-1]["passed"]
        and doc["steps"][-1]["streams"] == max(args.ramp)
    )
    return doc


def render(doc: dict[str, Any]) -> str:
    """Markdown: the ramp table and the answer."""
    rows = []
    # Results from before the client counted `degraded` events have no such column.
    told = any("degraded_calls" in s for s in doc["steps"])
    for s in doc["steps"]:
        lag, fin, late = s["verdict_lag"], s["final_latency"], s["send_lateness"]
        rows.append(
            [
                s["streams"],
                f"{s['completed']} / {s['streams']}"
                + (f" ({s['refused']} refused)" if s.get("refused") else ""),
                s["rolling_verdicts"],
                *([s.get("degraded_calls", "-")] if told else []),
                lag["p50_ms"],
                lag["p95_ms"],
                f"**{lag['p99_ms']}**",
                fin["p99_ms"],
                late["p99_ms"],
                s["server_cpu_cores"],
                s["client_cpu_cores"],
                s["server_peak_rss_mb"],
                "pass" if s["passed"] else "**fail**",
            ]
        )
    n = doc["max_streams_within_budget"]
    more = (
        " (the largest step tried: raise `--ramp` to find the limit)"
        if doc.get("ramp_exhausted")
        else ""
    )
    by_workers = doc.get("by_workers") or []
    scaling: list[str] = []
    if len(by_workers) > 1:
        cores = doc.get("cores") or 1
        wrows = []
        for r in by_workers:
            passed = [x for x in r["steps"] if x["passed"]]
            best = passed[-1] if passed else None
            wrows.append(
                [
                    r["workers"],
                    r["max_streams_within_budget"],
                    round(r["max_streams_within_budget"] / cores, 1),
                    best["verdict_lag"]["p99_ms"] if best else "",
                    r["memory_idle"]["rss_mb"],
                    best["server_peak_rss_mb"] if best else "",
                ]
            )
        scaling = [
            "",
            f"By worker processes (`--workers`; one scoring thread each when > 1; {cores} cores):",
            "",
            table(
                [
                    "workers",
                    "streams within budget",
                    "streams per core",
                    "p99 ms at that N",
                    "idle RSS MB per worker",
                    "peak RSS MB per worker at that N",
                ],
                wrows,
            ),
        ]
    return "\n".join(
        [
            f"Calls of {doc['call_seconds']:g} s, 8 kHz µ-law in 20 ms frames at real time, "
            f"starts spread over {doc['stagger_seconds']:g} s. **Largest N with every call "
            f"completed and p99 update latency < {doc['budget_ms']:g} ms: {n}**{more}."
            + (
                " Calls the server refused at admission (503 `overloaded`, close 1013: at its "
                "measured capacity) are counted apart; a step with refusals passes when every "
                "admitted call completed in budget, and its N is the number admitted."
                if any(s.get("refused") for s in doc["steps"])
                else ""
            ),
            "",
            table(
                [
                    "streams",
                    "completed",
                    "rolling verdicts",
                    *(["calls told `degraded`"] if told else []),
                    "update p50 ms",
                    "p95 ms",
                    "p99 ms",
                    "final p99 ms",
                    "send lateness p99 ms",
                    "server CPU (cores)",
                    "client CPU (cores)",
                    "server peak RSS MB",
                    "result",
                ],
                rows,
            ),
            *scaling,
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="model name or path (default: models/DEFAULT)")
    ap.add_argument("--quick", action="store_true", help="2 and 4 streams of 8 s")
    ap.add_argument("--ramp", type=int, nargs="+", help="N per step (default 25 50 100 200 400)")
    ap.add_argument("--call-seconds", type=float, help="length of each call (default 30)")
    ap.add_argument("--stagger", type=float, help="spread of call starts, s (default 3)")
    ap.add_argument("--budget-ms", type=float, default=200.0, help="p99 update latency budget")
    ap.add_argument(
        "--workers", type=int, nargs="+",
        help="worker process counts, one ramp each (default 1 2; --quick: 1)",
    )  # fmt: skip
    ap.add_argument("--keep-going", action="store_true", help="run every step even after a fail")
    ap.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    ap.add_argument("--out", help="JSON path (default benchmarks/results[/quick]/streams.json)")
    ap.add_argument(
        "--server-setting", action="append", default=[], metavar="KEY=VALUE",
        help="a server setting (e.g. stream_admit_max_utilisation=0 to switch admission off)",
    )  # fmt: skip
    args = ap.parse_args(argv)
    if any("=" not in kv for kv in args.server_setting):
        ap.error("--server-setting takes KEY=VALUE")
    q = args.quick
    args.ramp = sorted(args.ramp or ([2, 4] if q else [25, 50, 100, 200, 400]))
    args.call_seconds = args.call_seconds or (8.0 if q else 30.0)
    args.stagger = args.stagger if args.stagger is not None else (1.0 if q else 3.0)
    args.workers = args.workers or ([1] if q else [1, 2])
    return emit(NAME, run(args, argv), render, out=args.out, quick=q)


if __name__ == "__main__":
    raise SystemExit(main())
