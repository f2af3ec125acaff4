"""``POST /v1/analyze`` latency by clip length and concurrency, cold start, and server memory.

Starts the real service the way ``benchmarks/load.py`` does (``LocalServer``: a
``uvicorn`` child on 127.0.0.1, SQLite audit store in a temporary directory, API keys,
default limits unless ``--setting``), then:

* **cold start**: from spawning the process to ``/readyz`` answering 200 (Python start,
  imports, model verification and load, store migration check), ``--cold-starts`` times;
* **latency**: closed-loop clients (``load.http_load``) posting a 3, 10 and 60 s call
  (speech with pauses, 8 kHz 16-bit WAV by default) at 1, 8 and 32 concurrent clients:
  p50/p95/p99 of the 200 responses, throughput, and every status seen (with the default
  limits, 2 scoring threads + 8 queued, 32 clients are partly shed with 503);
* **memory**: the server's RSS and peak RSS (``VmHWM``) idle after the model load and
  after each load scenario.

Run::

    python -m benchmarks.api_latency            # ~6-9 min
    python -m benchmarks.api_latency --quick    # ~20 s
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import (
    DEFAULT_CORPUS,
    emit,
    encode,
    header,
    make_call,
    model_dir,
    model_info,
    speech_origin,
    speech_sources,
    table,
)
from benchmarks.load import LocalServer, http_load

NAME = "api_latency"
LIMIT_SETTINGS = (
    "max_concurrent_scoring",
    "max_queued_scoring",
    "max_streams",
    "request_timeout_seconds",
    "max_audio_seconds",
)


def server_settings(overrides: dict[str, Any]) -> dict[str, Any]:
    """The service's limits as this run configures them (defaults + overrides)."""
    from audio_detect_service.settings import Settings

    out = {k: Settings.model_fields[k].default for k in LIMIT_SETTINGS}
    return out | overrides


def parse_settings(items: list[str]) -> dict[str, str]:
    """``key=value`` pairs of ``--setting`` (``AUDIO_DETECT_`` settings without the prefix)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--setting expects key=value, got {item!r}")
        out[key.strip().lower()] = value.strip()
    return out


def memory(server: LocalServer) -> dict[str, float]:
    """Current and peak resident memory of the server, MB."""
    return {"rss_mb": round(server.rss_mb(), 1), "peak_rss_mb": round(server.peak_rss_mb(), 1)}


def cold_starts(server: LocalServer, n: int) -> list[float]:
    """Start (and, but for the last, stop) the server ``n`` times; seconds to ready."""
    server.create_keys()  # store migration and keys: before the clock starts
    times = []
    for i in range(n):
        if i:
            server.stop()
        t0 = time.perf_counter()
        server.start()
        times.append(round(time.perf_counter() - t0, 2))
    return times


def run(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    """Cold start, then every clip x clients scenario on one server."""
    model = model_dir(args.model)
    sources = speech_sources(Path(args.corpus) if args.corpus else None)
    clips = {
        s: encode(make_call(s, args.sr, sources=sources, seed=int(s)), args.sr, args.container)
        for s in args.clips
    }
    overrides = parse_settings(args.setting)
    doc = header(NAME, argv, quick=args.quick)
    doc |= {
        "model": model_info(model),
        "server": server_settings(overrides),
        "upload": {
            "sample_rate": args.sr,
            "container": args.container,
            "speech_from": speech_origin(sources),
            "bytes": {str(s): len(b) for s, b in clips.items()},
        },
    }
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        server = LocalServer(model.path, Path(tmp), settings=overrides)
        try:
            starts = cold_starts(server, args.cold_starts)
            doc["cold_start_s"] = {
                "runs": starts,
                "median": statistics.median(starts),
                "min": min(starts),
                "max": max(starts),
            }
            doc["memory_idle"] = memory(server)
            print(f"cold start {starts} s; idle {doc['memory_idle']}", flush=True)
            url, key = server.url, server.keys["both"]
            asyncio.run(
                http_load(url, key, clips[min(clips)], clients=1, requests=3, max_seconds=30)
            )  # warm-up
            doc["scenarios"] = []
            for seconds, data in clips.items():
                for clients in args.clients:
                    res = asyncio.run(
                        http_load(
                            url,
                            key,
                            data,
                            clients=clients,
                            requests=max(args.requests, clients),
                            max_seconds=args.max_seconds,
                            audio_seconds=seconds,
                        )
                    )
                    res |= {
                        "clip_seconds": seconds,
                        **memory(server),
                        "load_avg_after": [round(x, 2) for x in os.getloadavg()],
                    }
                    lat = res["latency_200"]
                    print(
                        f"{seconds:g} s x {clients} clients: {res['statuses']} "
                        f"p50 {lat['p50_ms']} p95 {lat['p95_ms']} p99 {lat['p99_ms']} ms",
                        flush=True,
                    )
                    doc["scenarios"].append(res)
            doc["memory_after_load"] = memory(server)
        finally:
            server.stop()
    return doc


def render(doc: dict[str, Any]) -> str:
    """Markdown: cold start line, latency table, memory line."""
    cs = doc["cold_start_s"]
    rows = []
    for r in doc["scenarios"]:
        lat = r["latency_200"]
        other = {k: v for k, v in r["statuses"].items() if k != "200"}
        rows.append(
            [
                f"{r['clip_seconds']:g} s",
                r["clients"],
                r["statuses"].get("200", 0),
                ", ".join(f"{v} × {k}" for k, v in other.items()) or "none",
                r["throughput_rps"],
                r["audio_seconds_per_s"],
                lat["p50_ms"],
                lat["p95_ms"],
                f"**{lat['p99_ms']}**",
                r["peak_rss_mb"],
            ]
        )
    s = doc["server"]
    lines = [
        f"Cold start to `/readyz` 200: **{cs['median']} s** median of {len(cs['runs'])} "
        f"(min {cs['min']}, max {cs['max']}; 0.1 s polling).",
        "",
        f"Upload: {doc['upload']['sample_rate'] // 1000} kHz {doc['upload']['container']} "
        f"call (speech with pauses), raw body. Server limits: {s['max_concurrent_scoring']} "
        f"scoring threads, {s['max_queued_scoring']} queued (more get 503).",
        "",
        table(
            [
                "clip",
                "clients",
                "200s",
                "other",
                "req/s",
                "audio-s/s",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "peak RSS MB",
            ],
            rows,
        ),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="model name or path (default: models/DEFAULT)")
    ap.add_argument("--quick", action="store_true", help="3 and 10 s clips, 1 and 8 clients")
    ap.add_argument("--clips", type=float, nargs="+", help="clip seconds (default 3 10 60)")
    ap.add_argument("--clients", type=int, nargs="+", help="concurrency (default 1 8 32)")
    ap.add_argument("--requests", type=int, help="requests per scenario (default 300, quick 16)")
    ap.add_argument("--max-seconds", type=float, help="time cap per scenario (default 60)")
    ap.add_argument("--cold-starts", type=int, help="server starts timed (default 3, quick 1)")
    ap.add_argument("--sr", type=int, default=8000, choices=(8000, 16000))
    ap.add_argument("--container", default="wav", choices=("wav", "wav_mulaw", "flac"))
    ap.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="server setting, e.g. max_queued_scoring=32 (repeatable)",
    )
    ap.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    ap.add_argument("--out", help="JSON path (default benchmarks/results[/quick]/api_latency.json)")
    args = ap.parse_args(argv)
    q = args.quick
    args.clips = args.clips or ([3.0, 10.0] if q else [3.0, 10.0, 60.0])
    args.clients = args.clients or ([1, 8] if q else [1, 8, 32])
    args.requests = args.requests or (16 if q else 300)
    args.max_seconds = args.max_seconds or (5.0 if q else 60.0)
    args.cold_starts = args.cold_starts or (1 if q else 3)
    return emit(NAME, run(args, argv), render, out=args.out, quick=q)


if __name__ == "__main__":
    raise SystemExit(main())
