"""Batch throughput: audio hours scored per hour of wall time, 1 and 2 workers, local and Ray.

Scores the same files with ``audio_detect.batch.run_batch`` four times (engine local and
ray, 1 and 2 workers, a fresh output folder each time) and reports, per run:

* wall time including start-up (process pool fork / Ray actors loading the model), and
* steady-state throughput, measured from the first to the last completed chunk, which
  is what a night-long job sees once start-up is amortised;

then the scaling efficiency (2-worker throughput / (2 x 1-worker throughput)) and the
cluster size for 1,000,000 call-hours per night in an 8-hour window, with the arithmetic.

Model: ``models/DEFAULT`` when it loads, else a tiny GMM trained on the committed clips
(as ``tests/conftest.py`` does). Audio: a fixed, evenly spread subset of
``../shared/corpus`` (``$AUDIO_DETECT_SHARED``), else generated speech-like calls.

Run::

    .venv/bin/python benchmarks/batch_throughput.py            # ~2-3 minutes on 2 cores
    .venv/bin/python benchmarks/batch_throughput.py --files 120 --engines local

Writes ``benchmarks/results/batch_throughput.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from audio_detect.batch import BatchProgress, read_results, run_batch  # noqa: E402
from audio_detect.exceptions import AudioDetectError  # noqa: E402
from audio_detect.registry import load_model_dir  # noqa: E402

CALL_HOURS_PER_NIGHT = 1_000_000
WINDOW_HOURS = 8
HEADROOM = 1.25  # retries, stragglers, uneven file lengths
CONTENDED_PSI = 20.0  # % CPU pressure above which wall-clock rates are not trusted
RESULTS = REPO / "benchmarks" / "results" / "batch_throughput.json"


def machine() -> dict[str, Any]:
    """CPU model, cores, memory, load and library versions."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    with contextlib.suppress(ValueError, OSError):
        mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    versions = {}
    for mod in ("numpy", "onnxruntime", "pyarrow", "ray"):
        try:
            versions[mod] = __import__(mod).__version__
        except ImportError:
            versions[mod] = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": mem_gb,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "cpu_pressure_at_start": cpu_pressure(),
        "versions": versions,
    }


def cpu_pressure() -> float | None:
    """Linux PSI: % of the last 10 s in which runnable tasks waited for a CPU."""
    try:
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    return float(line.split("avg10=")[1].split()[0])


def pick_model(tmp: Path) -> tuple[str, str]:
    """The default model's path, else a tiny GMM built like tests/conftest.py."""
    try:
        model = load_model_dir(None)
        return str(model.path), "models/DEFAULT"
    except AudioDetectError as exc:
        logging.warning("default model unavailable (%s); building the tiny test model", exc)
    from audio_detect.audio.io import load_audio
    from audio_detect.classifiers.gmm import GMMClassifier
    from audio_detect.config import FeatureConfig, WindowConfig
    from audio_detect.features import compute_features
    from audio_detect.registry import write_manifest

    feature = FeatureConfig(kind="lfcc", sr=8000, n_fft=256, win_length=160, hop_length=80)
    feats, labels = [], []
    for path in sorted((REPO / "tests" / "fixtures" / "audio").glob("*.flac")):
        feats.append(compute_features(load_audio(path, sr=8000).samples, config=feature))
        labels.append(int(path.stem.startswith("spoof")))
    clf = GMMClassifier(n_components=4, max_iter=20, random_state=0).fit(feats, labels)
    out = tmp / "tiny-gmm"
    out.mkdir()
    clf.save(out / "gmm.safetensors")
    write_manifest(
        out,
        {
            "name": "tiny-gmm", "version": "0.0.1", "format": "gmm",
            "weights": "gmm.safetensors", "sample_rate": 8000,
            "feature": feature.to_dict(),
            "window": WindowConfig(window_seconds=2.0, hop_seconds=1.0).to_dict(),
            "calibration": {"kind": "logistic", "a": 0.5, "b": 0.1},
            "thresholds": {"medium": 1.0, "high": 3.0}, "prior": 0.5,
            "files": ["gmm.safetensors"],
        },
    )  # fmt: skip
    return str(out), "tiny test GMM (models/DEFAULT unavailable)"


def pick_files(n: int, tmp: Path) -> tuple[list[str], str]:
    """``n`` corpus files spread evenly over the manifest, else generated 30-s calls."""
    shared = Path(os.environ.get("AUDIO_DETECT_SHARED", REPO.parent / "shared")) / "corpus"
    if (shared / "manifest.csv").is_file():
        from audio_detect.batch.inputs import read_csv_paths

        paths = [p for p in read_csv_paths(shared / "manifest.csv") if os.path.isfile(p)]
        step = max(1, len(paths) // n)
        return paths[::step][:n], f"{shared} (1 file in {step} of the manifest)"
    import soundfile as sf

    rng = np.random.default_rng(0)
    sr, out = 8000, []
    for i in range(n):
        t = np.arange(30 * sr) / sr
        f0 = 110 + 40 * rng.random() + 15 * np.sin(2 * np.pi * 4 * t)
        y = sum(np.sin(k * 2 * np.pi * np.cumsum(f0) / sr) / k for k in range(1, 12))
        env = (np.sin(2 * np.pi * 0.5 * t) > -0.3) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t) ** 2)
        y = 0.2 * env * y / np.max(np.abs(y)) + 0.003 * rng.standard_normal(t.size)
        path = tmp / "calls" / f"call_{i:04d}.wav"
        path.parent.mkdir(exist_ok=True)
        sf.write(path, y.astype(np.float32), sr, subtype="PCM_16")
        out.append(str(path))
    return out, "generated 30-s speech-like 8 kHz calls"


def run_one(engine: str, workers: int, files: list[str], model: str, tmp: Path) -> dict:
    """One run into a fresh output folder; wall and steady-state throughput."""
    marks: list[tuple[float, float, int]] = []  # (elapsed, audio seconds, files) per chunk

    def progress(p: BatchProgress) -> None:
        marks.append((p.elapsed, p.audio_seconds, p.done))

    out = tmp / f"out-{engine}-{workers}"
    summary = run_batch(
        files, out=out, engine=engine, workers=workers, model=model, shard_rows=500,
        batch_size=4, progress=progress,
    )  # fmt: skip
    # Steady state: drop the first 10 % of chunks (start-up, first actors warming up).
    k = max(1, len(marks) // 10)
    t_a, audio_a, files_a = marks[k - 1]
    t_b, audio_b, files_b = marks[-1]
    steady_s = max(t_b - t_a, 1e-9)
    cpu_h = sum(read_results(out, columns=["cpu_ms"]).column("cpu_ms").to_pylist()) / 3.6e6
    return {
        "engine": engine,
        "workers": workers,
        "files": summary.scored,
        "failed": summary.failed,
        "audio_hours": round(summary.audio_seconds / 3600, 4),
        "wall_s": round(summary.wall_seconds, 2),
        "startup_s": round(marks[0][0], 2),
        "files_per_s": round(summary.scored / summary.wall_seconds, 2),
        "audio_h_per_h_wall": round(summary.audio_hours_per_hour, 1),
        "audio_h_per_h_steady": round((audio_b - audio_a) / steady_s, 1),
        "steady_files_per_s": round((files_b - files_a) / steady_s, 2),
        "audio_h_per_cpu_h": round(summary.audio_seconds / 3600 / cpu_h, 1),
        "cpu_utilisation": round(cpu_h * 3600 / (summary.wall_seconds * workers), 2),
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpu_pressure_after": cpu_pressure(),
    }


def projection(runs: list[dict], engine: str, *, contended: bool) -> dict | None:
    """Scaling efficiency and cluster size for 1M call-hours in 8 h, with the arithmetic.

    The per-core rate is the 2-worker run's steady wall-clock throughput / 2 (so it
    carries the measured scaling loss). On a machine busy with other work (high CPU
    pressure) wall-clock rates measure the competition, not the code; the rate is
    then the 2-worker run's audio hours per CPU hour of the workers instead.
    """
    by_w = {r["workers"]: r for r in runs if r["engine"] == engine}
    if 1 not in by_w or 2 not in by_w:
        return None
    r1, r2 = by_w[1]["audio_h_per_h_steady"], by_w[2]["audio_h_per_h_steady"]
    eff = r2 / (2 * r1)
    need = CALL_HOURS_PER_NIGHT / WINDOW_HOURS
    if contended:
        per_core = by_w[2]["audio_h_per_cpu_h"]
        basis = f"per core = audio-h per worker CPU-h (2-worker run) = {per_core:.1f} audio-h/h"
    else:
        per_core = r2 / 2
        basis = f"per core = 2-worker throughput / 2 = {r2:.1f} / 2 = {per_core:.1f} audio-h/h"
    cores = need / per_core
    cores_h = cores * HEADROOM
    cores_per_node = os.cpu_count() or 2
    nodes = math.ceil(cores_h / cores_per_node)
    return {
        "engine": engine,
        "one_worker_audio_h_per_h": r1,
        "two_workers_audio_h_per_h": r2,
        "scaling_efficiency": round(eff, 3),
        "required_audio_h_per_h": need,
        "per_core_basis": "cpu_time (machine contended)" if contended else "wall_clock",
        "per_core_audio_h_per_h": round(per_core, 1),
        "cores_needed": math.ceil(cores),
        "cores_with_headroom": math.ceil(cores_h),
        "nodes_like_this_one": nodes,
        "arithmetic": [
            f"scaling efficiency = {r2:.1f} / (2 x {r1:.1f}) = {eff:.2f}",
            f"required = {CALL_HOURS_PER_NIGHT:,} call-h / {WINDOW_HOURS} h "
            f"= {need:,.0f} audio-h/h",
            basis,
            f"cores = {need:,.0f} / {per_core:.1f} = {cores:,.0f}",
            f"x {HEADROOM} headroom = {cores_h:,.0f} cores",
            f"= {nodes:,} nodes of {cores_per_node} cores like this one "
            f"({cores_h:,.0f} / {cores_per_node})",
        ],
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, write the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--files", type=int, default=1000, help="files per run")
    ap.add_argument("--engines", default="local,ray", help="comma-separated: local,ray")
    ap.add_argument("--model", default=None, help="model name or directory (default: DEFAULT)")
    ap.add_argument("--json-out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    info = machine()
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmpdir:
        tmp = Path(tmpdir)
        if args.model:
            model, model_note = str(load_model_dir(args.model).path), args.model
        else:
            model, model_note = pick_model(tmp)
        manifest = load_model_dir(model)
        files, source = pick_files(args.files, tmp)
        runs = []
        ray_init_s = None
        for engine in args.engines.split(","):
            if engine == "ray":
                import ray

                os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
                t0 = time.perf_counter()
                ray.init(
                    num_cpus=os.cpu_count(),
                    include_dashboard=False,
                    _node_ip_address="127.0.0.1",
                    log_to_driver=False,
                    configure_logging=False,
                )
                ray_init_s = round(time.perf_counter() - t0, 2)
            for workers in (1, 2):
                print(f"running {engine} x{workers} on {len(files)} files...", flush=True)
                runs.append(run_one(engine, workers, files, model, tmp))
            if engine == "ray":
                ray.shutdown()
    pressures = [info["cpu_pressure_at_start"]] + [r["cpu_pressure_after"] for r in runs]
    contended = any(p is not None and p > CONTENDED_PSI for p in pressures)
    report = {
        "machine": info,
        "model": {
            "path": model,
            "note": model_note,
            "name": manifest.name,
            "version": manifest.version,
            "sha256": manifest.sha256,
        },
        "audio": {"source": source, "files": len(files)},
        "ray_init_s": ray_init_s,
        "runs": runs,
        "contended": contended,
        "projection": [
            p for e in ("local", "ray") if (p := projection(runs, e, contended=contended))
        ],
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    print_report(report)
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.json_out}")
    return 0


def print_report(r: dict) -> None:
    """The table of runs and the projection arithmetic."""
    m = r["machine"]
    print(f"\nmachine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB RAM")
    print(
        f"load average at start: {m['load_average_at_start']}, "
        f"CPU pressure (PSI some avg10): {m['cpu_pressure_at_start']} %"
    )
    print(f"model: {r['model']['name']} {r['model']['version']} ({r['model']['note']})")
    print(f"audio: {r['audio']['files']} files from {r['audio']['source']}")
    if r["ray_init_s"] is not None:
        print(f"ray.init (local, not in the runs below): {r['ray_init_s']} s")
    head = (
        f"{'engine':<7}{'workers':>8}{'files':>7}{'audio h':>9}{'wall s':>8}{'start s':>8}"
        f"{'files/s':>9}{'audio-h/h wall':>16}{'audio-h/h steady':>18}{'per CPU-h':>11}"
        f"{'CPU use':>9}"
    )
    print("\n" + head + "\n" + "-" * len(head))
    for x in r["runs"]:
        print(
            f"{x['engine']:<7}{x['workers']:>8}{x['files']:>7}{x['audio_hours']:>9.3f}"
            f"{x['wall_s']:>8.1f}{x['startup_s']:>8.1f}{x['files_per_s']:>9.2f}"
            f"{x['audio_h_per_h_wall']:>16.1f}{x['audio_h_per_h_steady']:>18.1f}"
            f"{x['audio_h_per_cpu_h']:>11.1f}{x['cpu_utilisation']:>9.2f}"
        )
    if r["contended"]:
        print(
            "\nWARNING: other work kept the CPUs busy (PSI cpu pressure above "
            f"{CONTENDED_PSI:.0f} %): wall-clock rates and the scaling efficiency measure "
            "the competition; the projection uses CPU time instead. Rerun on a quiet machine."
        )
    for p in r["projection"]:
        print(f"\n{p['engine']} engine: 1,000,000 call-hours per 8-hour night")
        for line in p["arithmetic"]:
            print("  " + line)


if __name__ == "__main__":
    sys.exit(main())
