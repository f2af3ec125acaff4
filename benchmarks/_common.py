"""Shared parts of the performance benchmarks: machine facts, model lookup, test calls, output.

The service start-up and the HTTP/WebSocket clients are those of :mod:`benchmarks.load`
(``LocalServer`` from ``tests/reliability``); this module only adds what the new
benchmarks need on top of them.
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
QUICK_RESULTS = RESULTS / "quick"
FIXTURES = REPO / "tests" / "fixtures" / "audio"
#: Speech corpus used to build test calls when present (``--corpus`` or ``$BENCH_CORPUS``).
DEFAULT_CORPUS = Path(os.environ.get("BENCH_CORPUS", REPO.parent / "shared" / "corpus"))

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


# --------------------------------------------------------------------------- machine
def _first(path: str, prefix: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


#: CPU flags that decide int8 inference speed (and, without VNNI, its exactness), best last.
INT8_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")


def int8_isa(flags: str) -> list[str]:
    """The :data:`INT8_FLAGS` a ``/proc/cpuinfo`` flags line lists, in that order."""
    have = set(flags.split())
    return [f for f in INT8_FLAGS if f in have]


def machine() -> dict[str, Any]:
    """CPU model, cores, RAM, kernel, Python, load: recorded with every result."""
    mem_kb = _first("/proc/meminfo", "MemTotal")
    flags = _first("/proc/cpuinfo", "flags") or ""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count() or 0
    return {
        "cpu_model": _first("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "virtualized": "hypervisor" in flags.split(),
        "int8_isa": int8_isa(flags),
        "ram_gb": round(int(mem_kb.split()[0]) / 2**20, 1) if mem_kb else None,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    }


def describe_machine(m: dict[str, Any]) -> str:
    """One line for the README: ``Intel Xeon @ 2.80GHz (VM, VNNI), 2 cores, 23.5 GB RAM, ...``.

    VNNI (int8 dot products in one instruction) changes what the int8 model costs, so
    results from CPUs with and without it do not compare; older results, which did not
    record the flags, say neither.
    """
    isa = m.get("int8_isa")
    vnni = "" if isa is None else ("VNNI" if any("vnni" in f for f in isa) else "no VNNI")
    notes = ", ".join(x for x in ("VM" if m.get("virtualized") else "", vnni) if x)
    load = m.get("load_avg") or ["?"]
    return (
        f"{m.get('cpu_model')}{f' ({notes})' if notes else ''}, {m.get('cores')} cores, "
        f"{m.get('ram_gb')} GB RAM, load average {load[0]} at start"
    )


# --------------------------------------------------------------------------- models
def model_dir(name_or_path: str | None = None) -> Any:
    """The verified :class:`ModelDir` of a model name or path (``None``: ``models/DEFAULT``)."""
    from audio_detect.registry import load_model_dir

    return load_model_dir(name_or_path)


def model_info(model: Any) -> dict[str, Any]:
    """Name, version, format, rate, path and whether it is the default model."""
    from audio_detect.registry import default_model_name

    try:
        default = default_model_name()
    except Exception:  # no DEFAULT and several models: not an error here
        default = None
    return {
        "name": model.name,
        "version": model.version,
        "format": model.format,
        "sample_rate": model.sample_rate,
        "path": str(model.path),
        "is_default": model.path.name == default,
        "sha256": model.sha256,
    }


def shipped_models() -> list[str]:
    """Every model directory in ``models/`` (default one first)."""
    from audio_detect.registry import available_models, default_model_name

    names = available_models()
    try:
        default = default_model_name()
    except Exception:
        return names
    return sorted(names, key=lambda n: n != default)


# --------------------------------------------------------------------------- test audio
def speech_sources(corpus: Path | None = DEFAULT_CORPUS, limit: int = 40) -> list[Path]:
    """Bona fide speech files: ``limit`` from the corpus manifest if present, else fixtures."""
    manifest = corpus / "manifest.csv" if corpus else None
    if manifest is not None and manifest.is_file():
        with open(manifest, newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.DictReader(fh) if r.get("label") == "bonafide"]
        rng = np.random.default_rng(0)
        rows = [rows[i] for i in rng.permutation(len(rows))]
        paths = [corpus / r["path"] for r in rows if (corpus / r["path"]).is_file()]
        if paths:
            return paths[:limit]
    return sorted(FIXTURES.glob("*.flac"))


def speech_origin(sources: list[Path]) -> str:
    """Where :func:`speech_sources` found its speech (for the result files)."""
    if sources and not sources[0].is_relative_to(FIXTURES):
        return os.path.commonpath([str(p) for p in sources])
    return "tests/fixtures/audio"


def make_call(
    seconds: float, sr: int, *, sources: list[Path] | None = None, seed: int = 0
) -> np.ndarray:
    """A ``seconds``-long mono call at ``sr``: utterances with 0.2-0.8 s pauses, looped.

    Pauses hold faint noise (-60 dBFS), so the VAD has silence to skip, as in real calls.
    """
    from audio_detect.audio.io import load_audio

    sources = sources or speech_sources()
    if not sources:
        raise SystemExit("no speech found (tests/fixtures/audio is empty and no corpus)")
    rng = np.random.default_rng(seed)
    need = round(seconds * sr)
    parts: list[np.ndarray] = []
    total, i = 0, 0
    while total < need:
        y = load_audio(sources[i % len(sources)], sr=sr).samples
        pause = (rng.standard_normal(int(rng.uniform(0.2, 0.8) * sr)) * 1e-3).astype(np.float32)
        parts += [y, pause]
        total += y.size + pause.size
        i += 1
    return np.concatenate(parts)[:need].astype(np.float32)


def encode(y: np.ndarray, sr: int, container: str) -> bytes:
    """In-memory file: ``wav`` (PCM16), ``wav_mulaw`` (G.711 µ-law WAV) or ``flac`` (16 bit)."""
    import soundfile as sf

    fmt, subtype = {
        "wav": ("WAV", "PCM_16"),
        "wav_mulaw": ("WAV", "ULAW"),
        "flac": ("FLAC", "PCM_16"),
    }[container]
    buf = io.BytesIO()
    sf.write(buf, y, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


def mulaw_bytes(y: np.ndarray) -> bytes:
    """Headerless 8 kHz G.711 µ-law (what ``/v1/stream`` receives), from 8 kHz samples."""
    from audio_detect.audio.io import encode_g711

    return encode_g711(y, encoding="mulaw")


# --------------------------------------------------------------------------- output
def header(name: str, argv: list[str], *, quick: bool) -> dict[str, Any]:
    """The common head of every result file."""
    return {
        "benchmark": name,
        "command": " ".join(["python -m", f"benchmarks.{name}", *argv]).strip(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": quick,
        "machine": machine(),
    }


def out_path(name: str, out: str | None, *, quick: bool) -> Path:
    """``--out`` or ``benchmarks/results[/quick]/<name>.json``."""
    if out:
        return Path(out)
    return (QUICK_RESULTS if quick else RESULTS) / f"{name}.json"


def write_result(doc: dict[str, Any], path: Path) -> None:
    """Write the JSON (with the load average at the end) and say where."""
    doc.setdefault("machine", {})["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table (also what the scripts print)."""

    def cell(v: Any) -> str:
        return "–" if v is None else str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def raise_fd_limit() -> None:
    """Soft open-files limit up to the hard one (inherited by a server started afterwards)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def emit(name: str, doc: dict[str, Any], render: Callable[[dict[str, Any]], str], *,
         out: str | None, quick: bool) -> int:  # fmt: skip
    """Print the table of ``doc``, write its JSON, return the exit status."""
    print(render(doc))
    write_result(doc, out_path(name, out, quick=quick))
    return 0
