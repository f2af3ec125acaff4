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

Per-core rate: on a quiet machine, the 2-worker steady throughput / 2; when other work
keeps the CPUs busy (Linux CPU pressure above 20 % at the start or after a run, the result
is then marked ``contended``), audio hours per CPU hour of the workers instead. The
Markdown section of ``benchmarks/README.md`` is :func:`render` of the JSON (through
``python -m benchmarks.run``).

Run::

    python -m benchmarks.batch_throughput             # ~2-5 minutes on 2 cores
    python -m benchmarks.batch_throughput --quick     # 40 files, local engine: seconds
    python -m benchmarks.batch_throughput --files 120 --engines local

Writes ``benchmarks/results/batch_throughput.json`` (``benchmarks/results/quick/`` with
``--quick``). Needs the batch extra (pyarrow; ray for the Ray engine).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# The batch extra (pyarrow, ray) is imported where a run needs it: render() and upgrade()
# must work without it (benchmarks.report imports this module).
from audio_detect.exceptions import AudioDetectError  # noqa: E402
from audio_detect.registry import load_model_dir  # noqa: E402
from benchmarks._common import header, model_info, out_path, table, write_result  # noqa: E402

if TYPE_CHECKING:
    from audio_detect.batch import BatchProgress

NAME = "batch_throughput"
CALL_HOURS_PER_NIGHT = 1_000_000
WINDOW_HOURS = 8
HEADROOM = 1.25  # retries, stragglers, uneven file lengths
CONTENDED_PSI = 20.0  # % CPU pressure above which wall-clock rates are not trusted
QUICK_FILES = 40


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
        where = os.path.relpath(shared, REPO) if shared.is_relative_to(REPO.parent) else shared
        return paths[::step][:n], f"{where} (1 file in {step} of the manifest)"
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
    from audio_detect.batch import read_results, run_batch

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
        "call_hours_per_night": CALL_HOURS_PER_NIGHT,
        "window_hours": WINDOW_HOURS,
        "headroom": HEADROOM,
        "cores_per_node": cores_per_node,
        "arithmetic": [
            f"scaling efficiency = {r2:.1f} / (2 x {r1:.1f}) = {eff:.2f}",
            f"required = {CALL_HOURS_PER_NIGHT:,} call-h / {WINDOW_HOURS} h "
            f"= {need:,.0f} audio-h/h",
            basis,
            f"cores = {need:,.0f} / {per_core:.1f} = {cores:,.1f} -> {math.ceil(cores):,}",
            f"x {HEADROOM} headroom = {cores_h:,.1f} -> {math.ceil(cores_h):,} cores",
            f"= {nodes:,} nodes of {cores_per_node} cores like this one "
            f"({cores_h:,.0f} / {cores_per_node})",
        ],
    }


def run(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    """Every engine x workers run on the same files; the result document."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    doc = header(NAME, argv, quick=args.quick)
    doc["machine"]["cpu_pressure_at_start"] = cpu_pressure()
    doc["machine"]["versions"] = {
        mod: getattr(_try_import(mod), "__version__", None)
        for mod in ("numpy", "onnxruntime", "pyarrow", "ray")
    }
    workers = [int(w) for w in args.workers.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmpdir:
        tmp = Path(tmpdir)
        if args.model:
            model, model_note = str(load_model_dir(args.model).path), args.model
        else:
            model, model_note = pick_model(tmp)
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
            for n in workers:
                print(f"running {engine} x{n} on {len(files)} files...", flush=True)
                runs.append(run_one(engine, n, files, model, tmp))
            if engine == "ray":
                ray.shutdown()
        doc["model"] = {**model_info(load_model_dir(model)), "note": model_note}
    pressures = [doc["machine"]["cpu_pressure_at_start"]] + [r["cpu_pressure_after"] for r in runs]
    contended = any(p is not None and p > CONTENDED_PSI for p in pressures)
    doc.update(
        {
            "audio": {"source": source, "files": len(files)},
            "ray_init_s": ray_init_s,
            "runs": runs,
            "contended_above_psi": CONTENDED_PSI,
            "contended": contended,
            "projection": [
                p for e in ("local", "ray") if (p := projection(runs, e, contended=contended))
            ],
        }
    )
    return doc


def _try_import(mod: str) -> Any:
    try:
        return __import__(mod)
    except ImportError:
        return None


# --------------------------------------------------------------------------- report
def upgrade(doc: dict[str, Any]) -> dict[str, Any]:
    """A result file written before this script used ``benchmarks._common``, in today's shape.

    Older files have ``generated_at`` instead of ``command``/``date``, their own machine
    keys and the model's name, version and hash only; the projection constants were the
    ones above (their ``arithmetic`` lines show them). Current files pass through.
    """
    if "command" in doc:
        return doc
    m = doc["machine"]
    model = doc["model"]
    path, sep, rest = doc["audio"]["source"].partition(" (")
    if os.path.isabs(path) and Path(path).is_relative_to(REPO.parent):
        path = os.path.relpath(path, REPO)  # as the script writes it now
    return {
        **doc,
        "benchmark": NAME,
        "command": "python benchmarks/batch_throughput.py",
        "date": doc["generated_at"],
        "quick": False,
        "machine": {
            "cpu_model": m.get("cpu"),
            "cores": m.get("cores"),
            "ram_gb": m.get("memory_gb"),
            "python": m.get("python"),
            "load_avg": m.get("load_average_at_start"),
            "cpu_pressure_at_start": m.get("cpu_pressure_at_start"),
            "versions": m.get("versions", {}),
        },
        "model": {**model, "is_default": model.get("note") == "models/DEFAULT"},
        "audio": {**doc["audio"], "source": path + sep + rest},
        "contended_above_psi": CONTENDED_PSI,
        "projection": [
            {
                "call_hours_per_night": CALL_HOURS_PER_NIGHT,
                "window_hours": WINDOW_HOURS,
                "headroom": HEADROOM,
                "cores_per_node": m.get("cores"),
                **p,
            }
            for p in doc["projection"]
        ],
    }


def _span(values: list[float | None], fmt: str = "g") -> str:
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return "?"
    lo, hi = format(vals[0], fmt), format(vals[-1], fmt)
    return lo if lo == hi else f"{lo}-{hi}"


def render(doc: dict[str, Any]) -> str:
    """Markdown: what was scored, the table of runs, the contention note, the projection."""
    doc = upgrade(doc)
    runs, audio = doc["runs"], doc["audio"]
    engines = list(dict.fromkeys(r["engine"] for r in runs))
    workers = list(dict.fromkeys(r["workers"] for r in runs))
    hours = runs[0]["audio_hours"] if runs else 0.0
    mean_s = hours * 3600 / audio["files"] if audio["files"] else 0.0
    ray = (
        f" `ray.init` took {doc['ray_init_s']} s and is not in the rows."
        if doc.get("ray_init_s") is not None
        else ""
    )
    out = [
        f"Audio: {audio['source']}; {audio['files']:,} files, {hours:.2f} audio hours "
        f"({mean_s:.1f} s per file on average). Each run scores all of them with "
        f"`audio-detect batch` into a fresh output folder: {' and '.join(engines)} "
        f"engine{'s' * (len(engines) > 1)}, {' and '.join(map(str, workers))} "
        f"worker{'s' * (workers != [1])}{' each' * (len(engines) > 1)}.{ray}",
        "",
        "Columns: *wall* includes start-up (fork / Ray actors loading the model); *steady* is "
        "measured from the first 10 % of completed chunks to the last, what a night-long job "
        "sees; *per CPU-h* is audio hours per CPU hour of the workers (the rows' `cpu_ms`), "
        "which does not depend on what else runs on the machine; *CPU use* = worker CPU time "
        "/ (wall x workers), near 1.0 on a quiet machine.",
        "",
        table(
            [
                "engine",
                "workers",
                "wall s",
                "start s",
                "audio-h/h wall",
                "audio-h/h steady",
                "audio-h per CPU-h",
                "CPU use",
            ],
            [
                [
                    r["engine"],
                    r["workers"],
                    r["wall_s"],
                    r["startup_s"],
                    r["audio_h_per_h_wall"],
                    r["audio_h_per_h_steady"],
                    f"**{r['audio_h_per_cpu_h']}**",
                    r["cpu_utilisation"],
                ]
                for r in runs
            ],
        ),
    ]
    if failed := [r for r in runs if r.get("failed")]:
        out += [
            "",
            "**Files failed:** "
            + ", ".join(f"{r['engine']} x{r['workers']}: {r['failed']}" for r in failed)
            + " (see the output folders' error rows).",
        ]
    proj = doc.get("projection") or []
    if doc.get("contended"):
        m = doc["machine"]
        loads = [(m.get("load_avg") or [None])[0]]
        loads += [(r.get("load_average_after") or [None])[0] for r in runs]
        psi = [m.get("cpu_pressure_at_start")] + [r.get("cpu_pressure_after") for r in runs]
        effs = "; ".join(
            f"{p['engine']} {p['two_workers_audio_h_per_h']} / "
            f"(2 x {p['one_worker_audio_h_per_h']}) = {p['scaling_efficiency']:.2f}"
            for p in proj
        )
        use = "; ".join(
            f"{e} {' -> '.join(str(r['cpu_utilisation']) for r in runs if r['engine'] == e)}"
            for e in engines
        )
        out += [
            "",
            "**This run is not a clean scaling measurement.** Other work kept the machine's "
            f"CPUs busy: load average {_span(loads, '.1f')} and Linux CPU pressure "
            f"(`some avg10`) {_span(psi, '.0f')} % at the start and after each run (the "
            f"script calls a run contended above {doc['contended_above_psi']:g} %). Wall-clock "
            "rates and the scaling efficiency"
            + (f" ({effs})" if effs else "")
            + " then measure the competition, not the code: with the kernel's autogroup "
            "scheduler, for instance, each session gets a fixed share of the CPU, which added "
            f"workers split (CPU use by workers: {use}). The projection is therefore based on "
            "CPU time. Rerun on a quiet machine for wall-clock scaling; the JSON records load "
            "and pressure before and after every run.",
        ]
    out.append("")
    if not proj:
        out.append("No projection: it needs a 1-worker and a 2-worker run of an engine.")
        return "\n".join(out)
    p0 = proj[0]
    basis = "CPU-time" if doc.get("contended") else "wall-clock"
    need = p0["required_audio_h_per_h"]
    out += [
        f"Projection for {p0['call_hours_per_night']:,} call-hours per night, scored in "
        f"{p0['window_hours']:g} hours ({basis} basis, 2-worker runs):",
        "",
        "```",
        f"required = {p0['call_hours_per_night']:,} call-h / {p0['window_hours']:g} h "
        f"= {need:,.0f} audio-h per hour",
    ]
    for p in proj:
        r1, r2, per_core = (
            p["one_worker_audio_h_per_h"],
            p["two_workers_audio_h_per_h"],
            p["per_core_audio_h_per_h"],
        )
        rate = (
            f"{per_core} audio-h per worker CPU-h (2-worker run)"
            if p["per_core_basis"].startswith("cpu_time")
            else f"2-worker steady rate / 2 = {r2} / 2 = {per_core} audio-h per hour"
        )
        out += [
            f"{p['engine']}:",
            f"  scaling efficiency = {r2} / (2 x {r1}) = {p['scaling_efficiency']:.2f}",
            f"  per core = {rate}",
            f"  cores    = {need:,.0f} / {per_core} = {need / per_core:,.1f} -> "
            f"{p['cores_needed']:,}",
            f"  x {p['headroom']:g} headroom (retries, stragglers) = "
            f"{p['cores_with_headroom']:,} cores = {p['nodes_like_this_one']:,} nodes of "
            f"{p['cores_per_node']} cores",
        ]
    best = min(proj, key=lambda p: p["cores_with_headroom"])
    m = doc["model"]
    out += [
        "```",
        "",
        f"So, with model `{m['name']}` {m['version']}, about **{best['cores_with_headroom']:,} "
        f"cores** ({best['engine']} engine: {best['nodes_like_this_one']:,} machines like this "
        f"one of {best['cores_per_node']} cores, or {math.ceil(best['cores_with_headroom'] / 32):,}"
        " nodes of 32 cores) screen that volume. The cluster size is proportional to the "
        "model's CPU cost per audio hour: rerun after the default model changes. Per-file "
        f"costs (open, hash, decode set-up) weigh more on files of {mean_s:.1f} s than on "
        "calls of minutes, which makes this conservative for long calls. "
        + (
            "On a quiet machine the script uses the 2-worker wall-clock rate / 2 as the "
            "per-core rate instead, which also carries the measured scaling loss."
            if doc.get("contended")
            else "The per-core rate is the 2-worker wall-clock rate / 2, so it carries the "
            "measured scaling loss; on a busy machine the script uses CPU time instead."
        ),
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Command line: run, print the Markdown, write the JSON."""
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--quick", action="store_true", help=f"{QUICK_FILES} files, local engine")
    ap.add_argument("--files", type=int, help=f"files per run (default 1000, quick {QUICK_FILES})")
    ap.add_argument("--engines", help="comma-separated: local,ray (default both, quick local)")
    ap.add_argument("--workers", default="1,2", help="worker counts per engine (default 1,2)")
    ap.add_argument("--model", default=None, help="model name or directory (default: DEFAULT)")
    ap.add_argument(
        "--out",
        "--json-out",
        help="JSON path (default benchmarks/results[/quick]/batch_throughput.json)",
    )
    args = ap.parse_args(argv)
    args.files = args.files or (QUICK_FILES if args.quick else 1000)
    args.engines = args.engines or ("local" if args.quick else "local,ray")
    doc = run(args, argv)
    print(render(doc))
    write_result(doc, out_path(NAME, args.out, quick=args.quick))
    return 0


if __name__ == "__main__":
    sys.exit(main())
