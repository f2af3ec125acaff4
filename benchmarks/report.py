"""Render ``benchmarks/results/*.json`` of the performance benchmarks into the README.

The generated part of ``benchmarks/README.md`` sits between two marker comments and is
rewritten whole by :func:`update_readme`; everything outside the markers (the file's
title and opening paragraph) is left alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks import api_latency, batch_throughput, scoring_speed, streams, training
from benchmarks._common import describe_machine, table

BEGIN = "<!-- BEGIN benchmarks.run (generated: edits here are overwritten) -->"
END = "<!-- END benchmarks.run -->"
RENDERERS = {
    "scoring_speed": scoring_speed.render,
    "api_latency": api_latency.render,
    "streams": streams.render,
    "training": training.render,
    "batch_throughput": batch_throughput.render,
}
#: Result files written in an older shape, brought to today's before rendering.
UPGRADES = {"batch_throughput": batch_throughput.upgrade}
TITLES = {
    "scoring_speed": "Offline scoring speed per core vs. the floor",
    "api_latency": "`POST /v1/analyze` latency and cold start",
    "streams": "Concurrent live streams (`/v1/stream`)",
    "memory": "Memory (server RSS)",
    "training": "Training time of the default model",
    "batch_throughput": "Batch throughput (`audio-detect batch`)",
}


def load_results(results_dir: Path) -> dict[str, dict[str, Any]]:
    """The result files present, by benchmark name."""
    out = {}
    for name in RENDERERS:
        path = results_dir / f"{name}.json"
        if path.is_file():
            doc = json.loads(path.read_text(encoding="utf-8"))
            out[name] = UPGRADES[name](doc) if name in UPGRADES else doc
    return out


def _model(doc: dict[str, Any]) -> str:
    models = [doc["model"]] if "model" in doc else [r["model"] for r in doc.get("rows", [])]
    seen = {_describe_model(m): None for m in models}
    return ", ".join(seen) or "?"


def _describe_model(m: dict[str, Any]) -> str:
    """```name` version (format, rate, default)``, with the facts the result file has."""
    facts = [m["format"]] if m.get("format") else []
    facts += [f"{m['sample_rate'] // 1000} kHz"] if m.get("sample_rate") else []
    facts += ["default"] if m.get("is_default") else []
    return f"`{m['name']}` {m['version']}" + (f" ({', '.join(facts)})" if facts else "")


def provenance(doc: dict[str, Any]) -> str:
    """Command, date, machine, model of one result file."""
    quick = " **Quick run (smoke test): not a measurement.**" if doc.get("quick") else ""
    if doc.get("benchmark") == "training":
        return (
            f"`{doc['command']}` — read {doc['date'][:10]} from the `training` section of the "
            f"manifest of {_model(doc)} (not retrained; the manifest does not record the "
            f"machine it was trained on).{quick}"
        )
    return (
        f"`{doc['command']}` — {doc['date'][:10]}; {describe_machine(doc['machine'])}; "
        f"model {_model(doc)}.{quick}"
    )


def _default_speed_row(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    rows = [
        r
        for r in (doc or {}).get("rows", [])
        if r["model"].get("is_default") and r["input_sr"] == 8000
    ]
    return next((r for r in rows if r["container"] == "wav"), rows[0] if rows else None)


def _analyze_p99(doc: dict[str, Any] | None) -> float | None:
    for s in (doc or {}).get("scenarios", []):
        if s["clip_seconds"] == 10 and s["clients"] == 8:
            return s["latency_200"]["p99_ms"]
    return None


def peak_rss(docs: dict[str, dict[str, Any]]) -> float | None:
    """Largest server peak RSS seen by the API and stream benchmarks, MB."""
    peaks = (
        [docs["api_latency"]["memory_after_load"]["peak_rss_mb"]] if "api_latency" in docs else []
    )
    peaks += [s["server_peak_rss_mb"] for s in docs.get("streams", {}).get("steps", [])]
    return max(peaks) if peaks else None


def _target_values(docs: dict[str, dict[str, Any]]) -> list[tuple[str, str, Any, bool, str]]:
    """(target, goal, measured or None, met, unit) for each of the issue's targets."""
    speed = _default_speed_row(docs.get("scoring_speed"))
    n_streams = docs.get("streams", {}).get("max_streams_within_budget")
    p99 = _analyze_p99(docs.get("api_latency"))
    rss = peak_rss(docs)
    rtf = speed["rtf_cpu"] if speed else None
    floor = speed["ratio_to_floor"] if speed else None
    return [
        (
            "default model, 8 kHz call audio, end to end",
            ">= 500x real time per core",
            rtf,
            rtf is not None and rtf >= 500,
            "x",
        ),
        (
            "... ratio to decode + resample + STFT floor",
            "<= 3x",
            floor,
            floor is not None and floor <= 3,
            "x",
        ),
        (
            "concurrent 8 kHz µ-law live streams, p99 update < 200 ms",
            ">= 200",
            n_streams,
            n_streams is not None and n_streams >= 200,
            "",
        ),
        (
            "`POST /v1/analyze` 10 s clip, 8 clients, p99",
            "< 100 ms",
            p99,
            p99 is not None and p99 < 100,
            " ms",
        ),
        (
            "service peak RSS (model loaded, under load)",
            "< 400 MB",
            rss,
            rss is not None and rss < 400,
            " MB",
        ),
    ]


def _baseline_label(baseline: dict[str, dict[str, Any]]) -> str:
    info = next(iter(baseline.values()))["baseline"]
    return f"baseline `{info['ref']}` ({info['commit'][:8]}, {info['date'][:10]})"


def targets(
    docs: dict[str, dict[str, Any]], baseline: dict[str, dict[str, Any]] | None = None
) -> str:
    """The issue's targets next to the measured values (and the baseline's, when run)."""
    rows = [
        [
            what,
            goal,
            "not run" if val is None else f"{val}{unit}",
            "–" if val is None else ("**met**" if ok else "**not met**"),
        ]
        for what, goal, val, ok, unit in _target_values(docs)
    ]
    header = ["target", "goal", "measured", ""]
    if baseline:
        header += [_baseline_label(baseline), "this / baseline"]
        for row, (_, _, val, _, _), (_, _, old, _, unit) in zip(
            rows, _target_values(docs), _target_values(baseline), strict=True
        ):
            row.append("not run" if old is None else f"{old}{unit}")
            row.append(f"{val / old:.2f}" if val is not None and old else "–")
    return table(header, rows)


def render_memory(docs: dict[str, dict[str, Any]]) -> str | None:
    """RSS idle and under load, from the API and stream benchmarks."""
    rows = []
    if api := docs.get("api_latency"):
        idle, after = api["memory_idle"], api["memory_after_load"]
        rows.append(["idle after model load (`api_latency`)", idle["rss_mb"], idle["peak_rss_mb"]])
        rows.append(["after the `/v1/analyze` scenarios", after["rss_mb"], after["peak_rss_mb"]])
    if (st := docs.get("streams")) and st["steps"]:
        last = st["steps"][-1]
        rows.append(
            [
                f"after {last['streams']} concurrent streams (`streams`)",
                last["server_rss_mb"],
                last["server_peak_rss_mb"],
            ]
        )
    if not rows:
        return None
    note = (
        "Peak = `VmHWM` of the `uvicorn` process since it started (model load included); "
        "the two benchmarks run separate servers."
    )
    return note + "\n\n" + table(["when", "RSS MB", "peak RSS MB"], rows)


def render_all(
    docs: dict[str, dict[str, Any]],
    command: str,
    *,
    baseline: dict[str, dict[str, Any]] | None = None,
) -> str:
    """The generated Markdown between the markers (``baseline``: the results of
    ``--baseline REF``, measured in the same run)."""
    out = [
        BEGIN,
        "",
        "## Performance: against the floor",
        "",
        "Regenerate with `python -m benchmarks.run` (the five benchmarks below in sequence, "
        "~20-25 min on 2 cores; `--only NAME` for one, `--model NAME` for another model, "
        "`--quick` for a ~1 min smoke test that writes `benchmarks/results/quick/` and its "
        "own README instead). Each section names the command, date, machine and model of its "
        "result file (`benchmarks/results/<name>.json`). Scoring speed is measured on **one "
        "core** (numpy/BLAS and onnxruntime limited to one thread): audio seconds per CPU "
        "second of the scoring process. Training time is read from the model's manifest, "
        "not retrained. Batch throughput runs 1 and 2 worker processes per engine. How each "
        "number is measured: the docstring of "
        "`benchmarks/<name>.py`. Close other work first: the service and its clients share "
        "the machine, and every latency here includes CPU contention.",
        "",
        *(
            [
                f"**This copy was generated by `{command}`: smoke-test numbers, not "
                "measurements.**",
                "",
            ]
            if "--quick" in command
            else []
        ),
        "### Targets (issue: benchmarks against the floor)",
        "",
        targets(docs, baseline),
        "",
        *(
            [
                "The baseline columns are the release at that ref (its own code, models and "
                "benchmark scripts) run right before this tree's in the same "
                "`--baseline` run; a ratio above 1 is a larger number here.",
                "",
            ]
            if baseline
            else []
        ),
    ]
    for name in (
        "scoring_speed",
        "api_latency",
        "streams",
        "memory",
        "training",
        "batch_throughput",
    ):
        out += [f"### {TITLES[name]}", ""]
        if name == "memory":
            body = render_memory(docs)
            out += [body or "Not run yet (comes from `api_latency` and `streams`).", ""]
            continue
        doc = docs.get(name)
        if doc is None:
            out += [f"Not run yet: `python -m benchmarks.run --only {name}`.", ""]
            continue
        out += [provenance(doc), "", RENDERERS[name](doc), ""]
    out.append(END)
    return "\n".join(out)


def update_readme(readme: Path, generated: str) -> None:
    """Replace the text between the markers (or insert it before the first ``## `` heading)."""
    text = readme.read_text(encoding="utf-8") if readme.is_file() else "# Benchmarks\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + generated + rest.split(END, 1)[1]
    else:
        at = text.find("\n## ")
        at = len(text) if at < 0 else at + 1
        text = text[:at] + generated + "\n\n" + text[at:]
    readme.parent.mkdir(parents=True, exist_ok=True)
    readme.write_text(text, encoding="utf-8")
