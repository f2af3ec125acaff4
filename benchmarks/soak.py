"""Soak: steady mixed load for a fixed time; the server's memory must not grow, nothing may fail.

Starts the service (a real ``uvicorn`` process on 127.0.0.1, default model, SQLite in
a temporary directory) and, for ``--minutes``, keeps ``--clients`` closed-loop
``POST /v1/analyze`` clients (the 9.7 s fixture call, plus a hostile file every tenth
request, which must get its 4xx) and ``--streams`` back-to-back real-time WebSocket
calls busy, sampling the server's resident memory every ``--sample-seconds``.

Pass criteria (issue 7): resident memory at the end at most 10 % above the level after
the warm-up (the first ``--warmup-minutes``), and no error: every upload answered 200
(or its expected 4xx for the hostile ones), every stream ending with a final verdict.
503 sheds are counted separately (they are back-pressure, not errors; the default load
stays under the scoring capacity so there should be none).

Run::

    .venv/bin/python benchmarks/soak.py                  # 15 minutes
    .venv/bin/python benchmarks/soak.py --minutes 2      # a quick check

Writes ``benchmarks/results/soak.json`` (with the memory timeline).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "reliability"))
sys.path.insert(0, str(REPO / "benchmarks"))

from load import CLIP, machine, mulaw_call, one_stream, percentiles  # noqa: E402
from local_server import LocalServer  # noqa: E402

HOSTILE = REPO / "tests" / "fixtures" / "hostile"
HOSTILE_SAMPLE = (
    "wav_info_2gb.wav", "bomb_3h.flac", "trunc43.mp3", "nan.wav", "random.webm",
    "corrupt_streaminfo.flac", "m4a_trunc70.m4a", "magic_ebml_random.webm",
)  # fmt: skip


async def _uploads(url: str, key: str, stop_at: float, stats: dict[str, Any]) -> None:
    good = CLIP.read_bytes()
    hostile = [(HOSTILE / n).read_bytes() for n in HOSTILE_SAMPLE]
    headers = {"Authorization": f"Bearer {key}", "content-type": "application/octet-stream"}
    n = 0
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        while time.monotonic() < stop_at:
            n += 1
            bad = n % 10 == 0
            body = hostile[(n // 10) % len(hostile)] if bad else good
            t0 = time.monotonic()
            try:
                r = await client.post("/v1/analyze", content=body, headers=headers)
                code = r.status_code
            except httpx.HTTPError as exc:
                code = type(exc).__name__
            kind = "hostile" if bad else "good"
            stats["uploads"][f"{kind}_{code}"] += 1
            if code == 503:
                await asyncio.sleep(1)
            elif (bad and not (isinstance(code, int) and 400 <= code < 500)) or (
                not bad and code != 200
            ):
                stats["errors"].append(f"{kind} upload -> {code}")
            elif not bad:
                stats["latency"].append(time.monotonic() - t0)


async def _calls(url: str, key: str, stop_at: float, stats: dict[str, Any], seconds: float) -> None:
    audio = mulaw_call(seconds)
    while time.monotonic() + seconds < stop_at:
        try:
            res = await one_stream(url, key, audio)
        except Exception as exc:  # a broken stream is an error of the soak, not a crash of it
            stats["errors"].append(f"stream: {exc!r}"[:200])
            continue
        if res["error"] or "verdict" not in res:
            stats["errors"].append(f"stream: {res['error']}"[:200])
        else:
            stats["streams"] += 1
            stats["final_latency"].append(res["final_latency"])


async def _sampler(server: LocalServer, stop_at: float, every: float, out: list) -> None:
    t0 = time.monotonic()
    while time.monotonic() < stop_at:
        out.append((round(time.monotonic() - t0, 1), round(server.rss_mb(), 1)))
        await asyncio.sleep(every)
    out.append((round(time.monotonic() - t0, 1), round(server.rss_mb(), 1)))


async def soak(server: LocalServer, args: argparse.Namespace) -> dict[str, Any]:
    """Run the mixed load until the deadline; return the statistics."""
    stop_at = time.monotonic() + args.minutes * 60
    stats: dict[str, Any] = {"uploads": Counter(), "errors": [], "latency": [], "streams": 0,
                             "final_latency": []}  # fmt: skip
    rss: list[tuple[float, float]] = []
    key = server.keys["both"]
    await asyncio.gather(
        *(_uploads(server.url, key, stop_at, stats) for _ in range(args.clients)),
        *(_calls(server.url, key, stop_at, stats, args.call_seconds) for _ in range(args.streams)),
        _sampler(server, stop_at, args.sample_seconds, rss),
    )
    warm = [m for t, m in rss if t >= args.warmup_minutes * 60]
    base = warm[0] if warm else rss[0][1]
    tail = [m for t, m in rss if t >= args.minutes * 60 - 60] or [rss[-1][1]]
    end = sum(tail) / len(tail)
    growth = 100.0 * (end - base) / base
    return {
        "minutes": args.minutes, "clients": args.clients, "streams": args.streams,
        "uploads": dict(stats["uploads"]), "streams_completed": stats["streams"],
        "errors": stats["errors"][:50], "error_count": len(stats["errors"]),
        "latency_200": percentiles(stats["latency"]),
        "stream_final_latency": percentiles(stats["final_latency"]),
        "rss_mb": {"start": rss[0][1], "after_warmup": base, "end_last_minute_mean": round(end, 1),
                   "max": max(m for _, m in rss), "growth_pct_after_warmup": round(growth, 2)},
        "rss_timeline": rss,
        "pass": growth <= 10.0 and not stats["errors"],
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=15.0)
    ap.add_argument("--warmup-minutes", type=float, default=2.0)
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--streams", type=int, default=2)
    ap.add_argument("--call-seconds", type=float, default=30.0)
    ap.add_argument("--sample-seconds", type=float, default=10.0)
    ap.add_argument("--model", help="model directory or name (default: models/DEFAULT)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "soak.json"))
    args = ap.parse_args(argv)
    if not args.model:
        from audio_detect.registry import default_model_name, models_root

        args.model = str(models_root() / default_model_name())
    load_before = machine()
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        server = LocalServer(args.model, Path(tmp))
        server.start()
        try:
            res = asyncio.run(soak(server, args))
            res["server_peak_rss_mb"] = round(server.peak_rss_mb(), 1)
            res["server_log_tracebacks"] = server.log().count("Traceback")
        finally:
            server.stop()
    out = {"command": "benchmarks/soak.py " + " ".join(argv or sys.argv[1:]),
           "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine_at_start": load_before,
           "machine_at_end": machine(), **res}  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps({k: v for k, v in out.items() if k != "rss_timeline"}, indent=1))
    return 0 if res["pass"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
