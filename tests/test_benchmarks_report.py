"""``benchmarks/README.md`` is generated: the batch-throughput section and the report around it."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import batch_throughput, report  # noqa: E402
from benchmarks._common import RESULTS  # noqa: E402

COMMITTED = RESULTS / "batch_throughput.json"


def _run(engine: str, workers: int, steady: float, per_cpu: float, use: float) -> dict[str, Any]:
    return {
        "engine": engine,
        "workers": workers,
        "files": 40,
        "failed": 0,
        "audio_hours": 0.04,
        "wall_s": 3.21,
        "startup_s": 0.17,
        "files_per_s": 12.46,
        "audio_h_per_h_wall": 44.9,
        "audio_h_per_h_steady": steady,
        "steady_files_per_s": 13.0,
        "audio_h_per_cpu_h": per_cpu,
        "cpu_utilisation": use,
        "load_average_after": [0.42, 0.3, 0.2],
        "cpu_pressure_after": 1.5,
    }


def synthetic(*, contended: bool, workers: tuple[int, ...] = (1, 2)) -> dict[str, Any]:
    """A result file in today's shape, with the script's own projection."""
    runs = [_run("local", 1, 150.0, 161.3, 0.93), _run("local", 2, 270.0, 158.7, 0.91)]
    runs = [r for r in runs if r["workers"] in workers]
    return {
        "benchmark": "batch_throughput",
        "command": "python -m benchmarks.batch_throughput --quick",
        "date": "2026-11-22T10:00:00+0000",
        "quick": True,
        "machine": {
            "cpu_model": "Test CPU",
            "cores": 2,
            "virtualized": True,
            "ram_gb": 8.0,
            "load_avg": [0.37, 0.2, 0.1],
            "cpu_pressure_at_start": 1.0,
        },
        "model": {
            "name": "whisper-cm-8k",
            "version": "9.9.9",
            "format": "onnx",
            "sample_rate": 8000,
            "is_default": True,
        },
        "audio": {"source": "tests/fixtures/audio", "files": 40},
        "ray_init_s": None,
        "runs": runs,
        "contended_above_psi": batch_throughput.CONTENDED_PSI,
        "contended": contended,
        "projection": [
            p
            for e in ("local", "ray")
            if (p := batch_throughput.projection(runs, e, contended=contended))
        ],
    }


def row(r: dict[str, Any]) -> str:
    """The table row the README must show for one run of the JSON."""
    return (
        f"| {r['engine']} | {r['workers']} | {r['wall_s']} | {r['startup_s']} | "
        f"{r['audio_h_per_h_wall']} | {r['audio_h_per_h_steady']} | "
        f"**{r['audio_h_per_cpu_h']}** | {r['cpu_utilisation']} |"
    )


def test_quiet_run_renders_every_run_and_the_wall_clock_projection() -> None:
    doc = synthetic(contended=False)
    text = batch_throughput.render(doc)
    for r in doc["runs"]:
        assert row(r) in text
    assert "not a clean scaling measurement" not in text
    (p,) = doc["projection"]
    assert p["per_core_audio_h_per_h"] == 135.0  # 270 / 2: the wall-clock basis
    assert "wall-clock basis" in text
    assert "2-worker steady rate / 2 = 270.0 / 2 = 135.0" in text
    assert "scaling efficiency = 270.0 / (2 x 150.0) = 0.90" in text
    assert f"= {p['cores_with_headroom']:,} cores = {p['nodes_like_this_one']:,} nodes" in text
    assert f"about **{p['cores_with_headroom']:,} cores**" in text
    assert "model `whisper-cm-8k` 9.9.9" in text
    assert "40 files, 0.04 audio hours (3.6 s per file on average)" in text


def test_contended_run_says_so_with_the_recorded_load_and_pressure() -> None:
    doc = synthetic(contended=True)
    doc["machine"]["cpu_pressure_at_start"] = 97.0
    doc["runs"][1]["cpu_pressure_after"] = 99.4
    doc["runs"][1]["load_average_after"] = [12.34, 11.0, 10.0]
    text = batch_throughput.render(doc)
    assert "**This run is not a clean scaling measurement.**" in text
    assert "load average 0.4-12.3" in text  # at start 0.37, after runs 0.42 and 12.34
    assert "(`some avg10`) 2-99 %" in text  # 1.5 after the first run, 99.4 after the second
    assert "contended above 20 %" in text
    assert "CPU-time basis" in text
    assert "per core = 158.7 audio-h per worker CPU-h (2-worker run)" in text
    assert "CPU use by workers: local 0.93 -> 0.91" in text


def test_no_projection_without_a_two_worker_run() -> None:
    doc = synthetic(contended=False, workers=(1,))
    assert doc["projection"] == []
    text = batch_throughput.render(doc)
    assert row(doc["runs"][0]) in text
    assert "No projection" in text
    assert "```" not in text


def test_committed_result_renders_its_numbers() -> None:
    """The committed JSON (older shape included) renders its runs, contention and projection."""
    raw = json.loads(COMMITTED.read_text(encoding="utf-8"))
    doc = batch_throughput.upgrade(copy.deepcopy(raw))
    text = batch_throughput.render(raw)
    for r in doc["runs"]:
        assert row(r) in text
    assert ("not a clean scaling measurement" in text) == doc["contended"]
    for p in doc["projection"]:
        assert f"per core = {p['per_core_audio_h_per_h']} audio-h" in text
        assert f"= {p['cores_with_headroom']:,} cores" in text
    head = report.provenance(doc)
    assert head.startswith(f"`{doc['command']}` — {doc['date'][:10]}; ")
    assert f"`{doc['model']['name']}` {doc['model']['version']}" in head


def test_upgrade_maps_the_older_shape_and_keeps_the_current_one() -> None:
    old = {
        "machine": {
            "cpu": "Old CPU",
            "cores": 2,
            "memory_gb": 23.5,
            "load_average_at_start": [9.0],
        },
        "model": {"name": "lfcc-gmm-8k", "version": "1.0.0", "note": "models/DEFAULT"},
        "audio": {"source": f"{REPO.parent}/shared/corpus (1 file in 3 of the manifest)"},
        "runs": [],
        "projection": [{"engine": "local"}],
        "generated_at": "2026-11-21T09:03:15Z",
    }
    new = batch_throughput.upgrade(old)
    assert new["command"] == "python benchmarks/batch_throughput.py"
    assert new["date"] == old["generated_at"]
    assert new["machine"]["cpu_model"] == "Old CPU"
    assert new["machine"]["load_avg"] == [9.0]
    assert new["model"]["is_default"] is True
    assert new["audio"]["source"] == "../shared/corpus (1 file in 3 of the manifest)"
    assert new["projection"][0]["cores_per_node"] == 2
    assert report._model(new) == "`lfcc-gmm-8k` 1.0.0 (default)"
    current = synthetic(contended=False)
    assert batch_throughput.upgrade(current) is current


def test_report_puts_the_batch_section_between_the_markers(tmp_path: Path) -> None:
    doc = synthetic(contended=False)
    (tmp_path / "batch_throughput.json").write_text(json.dumps(doc), encoding="utf-8")
    docs = report.load_results(tmp_path)
    assert list(docs) == ["batch_throughput"]
    generated = report.render_all(docs, "python -m benchmarks.run --quick")
    readme = tmp_path / "README.md"
    readme.write_text(f"# Benchmarks\n\nintro\n\n{report.BEGIN}\nold\n{report.END}\n\ntail\n")
    report.update_readme(readme, generated)
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# Benchmarks\n\nintro\n\n") and text.endswith("\n\ntail\n")
    inside = text.split(report.BEGIN)[1].split(report.END)[0]
    assert "old" not in inside.split("\n")
    assert f"### {report.TITLES['batch_throughput']}" in inside
    assert "`python -m benchmarks.batch_throughput --quick` — 2026-11-22; Test CPU (VM)" in inside
    assert "Quick run (smoke test): not a measurement." in inside
    for r in doc["runs"]:
        assert row(r) in inside
    assert "Not run yet: `python -m benchmarks.run --only scoring_speed`." in inside


def test_committed_readme_is_what_the_committed_results_render() -> None:
    """``python -m benchmarks.run --render-only`` would not change ``benchmarks/README.md``."""
    readme = REPO / "benchmarks" / "README.md"
    text = readme.read_text(encoding="utf-8")
    if report.BEGIN not in text:
        pytest.fail("benchmarks/README.md has no generated section")
    committed = report.BEGIN + text.split(report.BEGIN, 1)[1].split(report.END, 1)[0] + report.END
    baseline = report.load_results(RESULTS / "baseline")  # as benchmarks.run renders it
    rendered = report.render_all(
        report.load_results(RESULTS), "python -m benchmarks.run", baseline=baseline
    )
    assert committed == rendered, "run `python -m benchmarks.run --render-only`"
    outside = text.replace(committed, "")
    assert not any(ch.isdigit() for ch in outside.replace("benchmarks.run", "")), (
        "numbers outside the generated section"
    )


def test_targets_show_the_baseline_and_the_ratio() -> None:
    docs = report.load_results(RESULTS)
    if not {"scoring_speed", "api_latency", "streams"} <= set(docs):
        pytest.skip("committed results incomplete")
    old = copy.deepcopy({k: docs[k] for k in ("scoring_speed", "api_latency", "streams")})
    for doc in old.values():
        doc["baseline"] = {"ref": "v-old", "commit": "0123456789abcdef", "date": "2026-11-01"}
    for s in old["api_latency"]["scenarios"]:
        s["latency_200"]["p99_ms"] *= 2  # the old release was twice as slow
    text = report.targets(docs, old)
    assert "baseline `v-old` (01234567, 2026-11-01)" in text
    row = next(line for line in text.splitlines() if "8 clients" in line)
    assert row.rstrip(" |").endswith("0.50")  # this / baseline
    assert "this / baseline" not in report.targets(docs)


def test_baseline_tree_checks_out_a_ref_and_removes_it() -> None:
    import shutil
    import subprocess

    from benchmarks.baseline import BaselineTree

    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    tree = BaselineTree.checkout("HEAD")
    try:
        assert tree.sha == head and tree.has("scoring_speed") and not tree.has("nope")
        assert (tree.path / "audio_detect_service" / "__init__.py").is_file()  # -> api/
        assert tree.env({"A": "1"}) == {"A": "1", "PYTHONPATH": str(tree.path)}
        got = tree.collect("scoring_speed", quick=False, into=tree.path / "x")  # committed
        assert got is not None
        assert json.loads(got.read_text())["baseline"] == {"ref": "HEAD", "commit": head,
                                                           "date": tree.date}  # fmt: skip
        assert tree.collect("scoring_speed", quick=True, into=tree.path / "x") is None
    finally:
        tree.close()
    assert not tree.path.exists()


def test_streams_table_counts_calls_told_degraded_when_the_results_have_it() -> None:
    from benchmarks import streams

    doc = json.loads((RESULTS / "streams.json").read_text(encoding="utf-8"))
    for s in doc["steps"]:
        s.pop("degraded_calls", None)
    assert "degraded" not in streams.render(doc)  # older results: no empty column
    doc["steps"][-1]["degraded_calls"] = 7
    table = streams.render(doc)
    assert "calls told `degraded`" in table
    row = f"| {doc['steps'][-1]['streams']} |"
    last = next(ln for ln in table.splitlines() if ln.startswith(row))
    assert "| 7 |" in last


def test_streams_table_counts_calls_refused_at_admission_apart() -> None:
    from benchmarks import streams

    doc = json.loads((RESULTS / "streams.json").read_text(encoding="utf-8"))
    for s in doc["steps"]:
        s.pop("refused", None)
    assert "refused" not in streams.render(doc)  # no refusals: the table as before
    last = doc["steps"][-1]
    last["refused"] = 123
    table = streams.render(doc)
    assert "refused at admission" in table
    row = next(ln for ln in table.splitlines() if ln.startswith(f"| {last['streams']} |"))
    assert f"{last['completed']} / {last['streams']} (123 refused)" in row


def test_machine_line_says_whether_the_cpu_has_vnni() -> None:
    from benchmarks._common import describe_machine, int8_isa

    flags = "fpu sse2 avx2 hypervisor avx512f avx512_vnni"
    assert int8_isa(flags) == ["avx2", "avx512f", "avx512_vnni"]
    assert int8_isa("fpu sse2 avx2") == ["avx2"]
    base = {"cpu_model": "AMD EPYC", "cores": 2, "ram_gb": 23.5, "load_avg": [0.5]}
    vnni = describe_machine({**base, "virtualized": True, "int8_isa": int8_isa(flags)})
    assert vnni.startswith("AMD EPYC (VM, VNNI), 2 cores, 23.5 GB RAM")
    assert "(no VNNI)" in describe_machine({**base, "int8_isa": ["avx2"]})
    # Results written before the flags were recorded claim neither.
    assert describe_machine({**base, "virtualized": True}).startswith("AMD EPYC (VM), 2 cores")
