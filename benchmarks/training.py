"""Training time of a model, read from its manifest (nothing is retrained).

Every trainer records its timings in the ``training`` section of ``manifest.json``:

* neural models (``audio-detect train``): ``train_wall_seconds`` (the training loop) and
  ``finalize_wall_seconds`` (ONNX export, parity check, scoring dev/eval, calibration),
  plus epochs, steps, what stopped it and the parameter count;
* classic GMM models: ``wall_seconds`` (features, EM, calibration on dev).

Training takes minutes to an hour on this machine; retraining to time it would measure
the same thing again, on whatever else the machine was doing. The manifest does not
record the machine it was trained on (``versions`` records the software); the model
card's text may.

Run::

    python -m benchmarks.training                 # the default model
    python -m benchmarks.training --model NAME
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from benchmarks._common import header, model_dir, model_info, out_path, table, write_result

NAME = "training"
TIME_KEYS = ("train_wall_seconds", "finalize_wall_seconds", "wall_seconds")
FACT_KEYS = (
    "arch",
    "loss",
    "n_parameters",
    "epochs",
    "steps",
    "best_epoch",
    "stopped_by",
    "seed",
    "train_files_used",
)


def training_facts(manifest: dict[str, Any]) -> dict[str, Any]:
    """Timings and run facts from a manifest's ``training`` section."""
    t = manifest.get("training") or {}
    out: dict[str, Any] = {k: t[k] for k in (*TIME_KEYS, *FACT_KEYS) if k in t}
    if "wall_seconds" not in out and "train_wall_seconds" in out:
        out["total_wall_seconds"] = round(
            out["train_wall_seconds"] + out.get("finalize_wall_seconds", 0.0), 1
        )
    elif "wall_seconds" in out:
        out["total_wall_seconds"] = out["wall_seconds"]
    splits = t.get("splits") or {}
    if splits:
        out["train_utterances"] = splits.get("train", {}).get("n_utterances")
        out["train_speech_hours"] = splits.get("train", {}).get("speech_hours")
    elif isinstance(t.get("files"), dict):
        out["train_utterances"] = t["files"].get("train")
    out["software"] = manifest.get("versions", {})
    return out


def run(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    """One model's training facts."""
    model = model_dir(args.model)
    doc = header(NAME, argv, quick=args.quick)
    doc["source"] = "manifest.json training section (not retrained)"
    doc["model"] = model_info(model)
    doc["training"] = training_facts(model.manifest)
    if "total_wall_seconds" not in doc["training"]:
        print(f"{model.name}: the manifest records no training time", file=sys.stderr)
    return doc


def _minutes(seconds: float | None) -> str | None:
    return None if seconds is None else f"{seconds:.0f} s ({seconds / 60:.1f} min)"


def render(doc: dict[str, Any]) -> str:
    """Markdown table of one model's training facts."""
    t, m = doc["training"], doc["model"]
    row = [
        f"{m['name']} {m['version']} ({m['format']})",
        _minutes(t.get("train_wall_seconds")),
        _minutes(t.get("finalize_wall_seconds")),
        f"**{_minutes(t.get('total_wall_seconds'))}**",
        t.get("epochs"),
        t.get("steps"),
        t.get("stopped_by"),
        t.get("n_parameters"),
        t.get("train_utterances"),
    ]
    heads = [
        "model",
        "training loop",
        "export + calibration + eval",
        "total",
        "epochs",
        "steps",
        "stopped by",
        "parameters",
        "train utterances",
    ]
    return table(heads, [row])


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="model name or path (default: models/DEFAULT)")
    ap.add_argument("--quick", action="store_true", help="the same (reading is instant)")
    ap.add_argument("--out", help="JSON path (default benchmarks/results[/quick]/training.json)")
    args = ap.parse_args(argv)
    doc = run(args, argv)
    print(render(doc))
    write_result(doc, out_path(NAME, args.out, quick=args.quick))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
