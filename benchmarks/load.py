"""Load harness: ``POST /v1/analyze`` and concurrent ``/v1/stream`` WebSockets, on loopback.

Starts the service itself (a real ``uvicorn`` process on 127.0.0.1, default model,
SQLite audit store in a temporary directory) unless ``--url`` names one already
running on 127.0.0.1, and runs bounded scenarios (a request count *and* a time cap):

* ``analyze``: closed-loop clients posting a 9.7 s call recording; throughput
  (requests/s, audio seconds/s) and p50/p95/p99 latency of the 200s.
* ``overload``: many more clients than scoring slots; the server must shed with
  503 + ``Retry-After`` quickly, never time out.
* ``streams``: concurrent WebSocket calls sending 8 kHz µ-law in 20 ms frames at real
  time; latency of each rolling verdict (from the frame that completed the audio it
  covers to its arrival) and of the final verdict after ``stop``.

The HTTP scenarios use an asyncio client (exact per-request latency by status); with
``--engine wrk`` the ``analyze`` scenario runs Debian's ``wrk`` instead.

Run::

    .venv/bin/python benchmarks/load.py                      # ~3 minutes on 2 cores
    .venv/bin/python benchmarks/load.py --scenarios analyze --engine wrk

Writes ``benchmarks/results/load.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "reliability"))

from local_server import LocalServer  # noqa: E402

CLIP = REPO / "tests" / "fixtures" / "audio" / "bonafide_lj001-0001.flac"
LOOPBACK = "http://127.0.0.1:"


def percentiles(values: list[float]) -> dict[str, float | None]:
    """p50/p95/p99/max in milliseconds (None when empty)."""
    if not values:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    a = np.asarray(values) * 1000.0
    return {f"p{q}_ms": round(float(np.percentile(a, q)), 1) for q in (50, 95, 99)} | {
        "max_ms": round(float(a.max()), 1)
    }


async def http_load(
    url: str, key: str, audio: bytes, *, clients: int, requests: int, max_seconds: float,
    audio_seconds: float = 0.0,
) -> dict[str, Any]:  # fmt: skip
    """Closed-loop ``POST /v1/analyze`` by ``clients`` tasks; at most ``requests`` in total."""
    latencies: dict[str, list[float]] = {}
    statuses: Counter[str] = Counter()
    retry_after_missing = 0
    issued = 0
    t_end = time.monotonic() + max_seconds
    headers = {"Authorization": f"Bearer {key}", "content-type": "application/octet-stream"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def one(client: httpx.AsyncClient) -> None:
        nonlocal issued, retry_after_missing
        while issued < requests and time.monotonic() < t_end:
            issued += 1
            t0 = time.monotonic()
            try:
                r = await client.post("/v1/analyze", content=audio, headers=headers)
                status = str(r.status_code)
                if r.status_code in (429, 503) and "retry-after" not in r.headers:
                    retry_after_missing += 1
                if r.status_code in (429, 503):
                    await asyncio.sleep(min(float(r.headers.get("retry-after", 1)), 1.0) * 0.2)
            except httpx.TimeoutException:
                status = "client_timeout"
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            statuses[status] += 1
            latencies.setdefault(status, []).append(time.monotonic() - t0)

    t0 = time.monotonic()
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        await asyncio.gather(*(one(client) for _ in range(clients)))
    wall = time.monotonic() - t0
    ok = statuses.get("200", 0)
    return {
        "clients": clients, "requests": sum(statuses.values()), "wall_s": round(wall, 2),
        "statuses": dict(statuses), "throughput_rps": round(ok / wall, 2),
        "audio_seconds_per_s": round(ok * audio_seconds / wall, 1),
        "latency_200": percentiles(latencies.get("200", [])),
        "latency_503": percentiles(latencies.get("503", [])),
        "retry_after_missing": retry_after_missing,
    }  # fmt: skip


def mulaw_call(seconds: float) -> bytes:
    """The fixture speech at 8 kHz in µ-law, looped to ``seconds``."""
    from audio_detect.audio.io import encode_g711, load_audio

    y = load_audio(CLIP, sr=8000).samples
    reps = int(np.ceil(seconds * 8000 / y.size))
    return encode_g711(np.tile(y, reps)[: int(seconds * 8000)], encoding="mulaw")


async def one_stream(
    url: str, key: str, audio: bytes, frame_ms: int = 20, start_delay: float = 0.0
) -> dict[str, Any]:
    """One real-time call: verdict lags, final latency, counts, send lateness.

    ``start_delay`` staggers the connection; ``late`` collects how far behind its
    real-time schedule each frame was sent (a saturated client shows up there).
    """
    import bisect

    import websockets

    await asyncio.sleep(start_delay)

    ws_url = url.replace("http://", "ws://") + "/v1/stream"
    frame = 8 * frame_ms
    sent_s: list[float] = []  # audio seconds sent after each frame (increasing)
    sent_t: list[float] = []  # and when that frame was sent
    lags: list[float] = []
    late: list[float] = []
    out: dict[str, Any] = {"scores": 0, "degraded": 0, "error": None}
    async with websockets.connect(ws_url, additional_headers={"Authorization": f"Bearer {key}"},
                                  open_timeout=30, max_size=2**22) as ws:  # fmt: skip
        try:
            await ws.send(json.dumps({"type": "start", "encoding": "mulaw", "sample_rate": 8000}))
            started = json.loads(await ws.recv())
        except websockets.ConnectionClosed as exc:
            # Refused before the start message went out: the close code says why.
            code = exc.rcvd.code if exc.rcvd is not None else None
            return {**out, "error": f"closed {code} before start", "refused": code == 1013}
        if started.get("type") != "started":
            # Admission control turning a call away (503 `overloaded`, close 1013) is
            # the server protecting its open calls, counted apart from failures.
            refused = started.get("error", {}).get("code") == "overloaded"
            return {**out, "error": started, "refused": refused}

        async def reader() -> None:
            async for raw in ws:
                msg = json.loads(raw)
                now = time.monotonic()
                if msg["type"] == "score":
                    out["scores"] += 1
                    j = bisect.bisect_left(sent_s, msg["audio_seconds"] - 1e-6)
                    lags.append(now - (sent_t[j] if j < len(sent_t) else now))
                elif msg["type"] == "degraded":  # the server says it is behind this call
                    out["degraded"] += 1
                elif msg["type"] == "final":
                    out["final_at"] = now
                    out["verdict"] = msg["verdict"]
                    return
                elif msg["type"] == "error":
                    out["error"] = msg["error"]
                    return

        task = asyncio.create_task(reader())
        t0 = time.monotonic()
        for i in range(0, len(audio), frame):
            late.append(max(0.0, time.monotonic() - (t0 + i / 8000)))
            await ws.send(audio[i : i + frame])
            sent_s.append(min(i + frame, len(audio)) / 8000)
            sent_t.append(time.monotonic())
            delay = t0 + (i + frame) / 8000 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        stop_at = time.monotonic()
        await ws.send(json.dumps({"type": "stop"}))
        await asyncio.wait_for(task, 120)
    out["final_latency"] = out.get("final_at", stop_at) - stop_at
    out["lags"] = lags
    out["late"] = late
    return out


async def ws_load(
    url: str, key: str, *, streams: int, seconds: float, audio: bytes | None = None,
    stagger_seconds: float = 0.0,
) -> dict[str, Any]:  # fmt: skip
    """``streams`` concurrent real-time calls of ``seconds`` each.

    ``audio``: 8 kHz µ-law to send (default: the fixture looped, :func:`mulaw_call`);
    ``stagger_seconds``: the calls start evenly spread over this time.
    """
    audio = audio if audio is not None else mulaw_call(seconds)
    t0 = time.monotonic()
    step = stagger_seconds / streams if streams else 0.0
    results = await asyncio.gather(
        *(one_stream(url, key, audio, start_delay=i * step) for i in range(streams)),
        return_exceptions=True,
    )
    wall = time.monotonic() - t0
    ok = [r for r in results if isinstance(r, dict) and not r["error"] and "verdict" in r]
    refused = [r for r in results if isinstance(r, dict) and r.get("refused")]
    failures = [repr(r)[:200] for r in results if r not in ok and r not in refused]
    lags = [x for r in ok for x in r["lags"]]
    return {
        "streams": streams, "call_seconds": seconds, "wall_s": round(wall, 1),
        "completed": len(ok), "refused": len(refused), "failures": failures,
        "rolling_verdicts": sum(r["scores"] for r in ok),
        "degraded_calls": sum(1 for r in ok if r["degraded"]),
        "verdict_lag": percentiles(lags),
        "final_latency": percentiles([r["final_latency"] for r in ok]),
        "send_lateness": percentiles([x for r in ok for x in r["late"]]),
        "realtime_factor": round(streams * seconds / wall, 2),
    }  # fmt: skip


def wrk_load(url: str, key: str, clip: Path, *, clients: int, seconds: int) -> dict[str, Any]:
    """The ``analyze`` scenario with ``wrk`` (a Lua script posts the clip)."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    script = Path(tempfile.mkdtemp()) / "post.lua"
    script.write_text(
        f'wrk.method = "POST"\nlocal f = io.open("{clip}", "rb")\nwrk.body = f:read("*a")\n'
        f'f:close()\nwrk.headers["Authorization"] = "Bearer {key}"\n'
        'wrk.headers["Content-Type"] = "application/octet-stream"\n'
        "done = function(summary, latency, requests)\n"
        '  io.write(string.format("JSON {\\"requests\\": %d, \\"non2xx\\": %d, '
        '\\"timeouts\\": %d, \\"p50_ms\\": %.1f, \\"p95_ms\\": %.1f, \\"p99_ms\\": %.1f}\\n",\n'
        "    summary.requests, summary.errors.status, summary.errors.timeout,\n"
        "    latency:percentile(50)/1000, latency:percentile(95)/1000, "
        "latency:percentile(99)/1000))\nend\n"
    )
    cmd = ["wrk", "-t", "1", "-c", str(clients), "-d", f"{seconds}s", "--timeout", "60s",
           "-s", str(script), url + "/v1/analyze"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120, check=False)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("JSON ")), None)
    if line is None:
        raise RuntimeError(proc.stdout + proc.stderr)
    res = json.loads(line[5:])
    res["throughput_rps"] = round((res["requests"] - res["non2xx"]) / seconds, 2)
    return {"engine": "wrk", "clients": clients, "seconds": seconds, **res}


def machine() -> dict[str, Any]:
    """Machine facts recorded with every result."""
    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "load_avg": [round(x, 2) for x in os.getloadavg()]}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", help="a server already running on 127.0.0.1 (needs --key)")
    ap.add_argument("--key", help="API key with both scopes for --url")
    ap.add_argument("--model", help="model directory or name (default: models/DEFAULT)")
    ap.add_argument("--scenarios", default="analyze,overload,streams")
    ap.add_argument("--engine", choices=("python", "wrk"), default="python")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--seconds", type=float, default=60.0, help="time cap per scenario")
    ap.add_argument("--overload-clients", type=int, default=40)
    ap.add_argument("--streams", type=int, default=8)
    ap.add_argument("--call-seconds", type=float, default=30.0)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "load.json"))
    args = ap.parse_args(argv)
    if not args.model:
        from audio_detect.registry import default_model_name, models_root

        args.model = str(models_root() / default_model_name())
    if args.url and not args.url.startswith(LOOPBACK):
        raise SystemExit("--url must be a server on 127.0.0.1 (loopback only)")
    audio = CLIP.read_bytes()
    from audio_detect.audio.io import load_audio

    clip_seconds = load_audio(CLIP).duration
    out: dict[str, Any] = {"command": "benchmarks/load.py " + " ".join(argv or sys.argv[1:]),
                           "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine(),
                           "clip_seconds": round(clip_seconds, 2), "scenarios": {}}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="load-") as tmp:
        server = None
        if args.url:
            url, key = args.url, args.key
        else:
            server = LocalServer(args.model, Path(tmp))
            server.start()
            url, key = server.url, server.keys["both"]
            out["server"] = {"max_concurrent_scoring": 2, "max_queued_scoring": 8,
                             "rss_mb_start": round(server.rss_mb(), 1)}  # fmt: skip
        try:
            for name in args.scenarios.split(","):
                t0 = time.monotonic()
                if name == "analyze" and args.engine == "wrk":
                    res = wrk_load(url, key, CLIP, clients=args.clients, seconds=int(args.seconds))
                elif name in ("analyze", "overload"):
                    clients = args.clients if name == "analyze" else args.overload_clients
                    res = asyncio.run(http_load(
                        url, key, audio, clients=clients, requests=args.requests,
                        max_seconds=args.seconds, audio_seconds=clip_seconds))  # fmt: skip
                elif name == "streams":
                    res = asyncio.run(ws_load(url, key, streams=args.streams,
                                              seconds=args.call_seconds))  # fmt: skip
                else:
                    raise SystemExit(f"unknown scenario {name!r}")
                res["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
                out["scenarios"][name] = res
                print(
                    f"{name} ({time.monotonic() - t0:.0f} s): {json.dumps(res)[:600]}", flush=True
                )
            if server is not None:
                out["server"]["rss_mb_end"] = round(server.rss_mb(), 1)
                out["server"]["rss_mb_peak"] = round(server.peak_rss_mb(), 1)
        finally:
            if server is not None:
                server.stop()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
