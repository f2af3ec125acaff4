"""Rewrite an int8 model directory with uint8-stored weights (the same integer products).

    python scripts/unsign_int8_model.py models/whisper-cm-8k --version 2.1.1
    python scripts/unsign_int8_model.py models/whisper-cm-8k --check   # only measure

onnxruntime's uint8 x int8 kernel saturates on x86 CPUs without VNNI, so a graph whose
``MatMulInteger`` weights are int8 scores differently there than on a VNNI CPU
(:mod:`audio_detect.training.quantize`). This script converts such a model with
:func:`~audio_detect.training.quantize.unsign_int8_weights`, then prints, for windows of
the committed example and fixture audio, the largest score difference between the old
and the converted graph *on this CPU* (0 up to float rounding on a VNNI CPU, large on an
AVX2-only one) and whether the CPU has VNNI. Without ``--check`` it writes the converted
``model.onnx``, records ``weight_storage`` in the manifest's quantization summary, sets
``--version``, rewrites the card's title and weights line and rehashes the manifest.
Needs the ``train`` extra (the ``onnx`` package).
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _probe_windows(sr: int, seconds: float = 4.0) -> np.ndarray:
    from audio_detect.audio.io import load_audio

    n = int(sr * seconds)
    clips = sorted((REPO / "tests/fixtures/audio").glob("*.flac"))
    clips += sorted((REPO / "examples/audio").glob("*.flac"))
    rows = []
    for path in clips:
        x = load_audio(path, sr=sr).samples.astype(np.float32)
        if len(x) < n // 2:
            continue
        rows.append(np.resize(x, n))  # repeat short clips to the window length
    return np.stack(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("model_dir", type=Path)
    ap.add_argument("--version", help="version to record (default: unchanged)")
    ap.add_argument("--check", action="store_true", help="measure only, write nothing")
    args = ap.parse_args()

    import onnx
    import onnxruntime as ort

    from audio_detect.backends import cpu_flags
    from audio_detect.registry import load_model_dir, write_manifest
    from audio_detect.training.card import _quantization_lines
    from audio_detect.training.quantize import unsign_int8_weights

    md = load_model_dir(args.model_dir.resolve())
    onnx_path = md.file(md.spec.weights or "")
    model = onnx.load(str(onnx_path))
    n = unsign_int8_weights(model)
    flags = cpu_flags()
    vnni = sorted(flags & {"avx512_vnni", "avx_vnni"})
    print(f"{n} MatMulInteger weights converted; CPU VNNI flags: {vnni or 'none'}")
    if n == 0:
        return
    with tempfile.TemporaryDirectory() as tmp:
        new_path = Path(tmp) / "model.onnx"
        onnx.save(model, str(new_path))
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        x = _probe_windows(md.spec.sample_rate)
        old = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        new = ort.InferenceSession(str(new_path), opts, providers=["CPUExecutionProvider"])
        (a,) = old.run(None, {"waveform": x})
        (b,) = new.run(None, {"waveform": x})
        diff = np.abs(np.asarray(a) - np.asarray(b))
        print(
            f"{len(x)} windows: max |score_old - score_new| = {diff.max():.4f} "
            f"(median {np.median(diff):.4f}) on this CPU"
        )
        if args.check:
            return
        onnx_path.write_bytes(new_path.read_bytes())

    manifest = json.loads((md.path / "manifest.json").read_text(encoding="utf-8"))
    old_version = manifest.get("version", "")
    if args.version:
        manifest["version"] = args.version
    q = manifest.get("training", {}).get("quantization")
    if q is not None:
        q["weight_storage"] = "uint8"
    card_path = md.path / "MODEL_CARD.md"
    if card_path.is_file() and q is not None:
        card = card_path.read_text(encoding="utf-8")
        card = re.sub(
            r"^- Weights: int8 .*$",
            _quantization_lines({"quantization": q})[0],
            card,
            count=1,
            flags=re.M,
        )
        if args.version:
            card = card.replace(
                f"# {manifest['name']} {old_version}\n", f"# {manifest['name']} {args.version}\n", 1
            )
        card_path.write_text(card, encoding="utf-8")
    write_manifest(md.path, manifest)
    print(f"wrote {onnx_path} and {md.path / 'manifest.json'} (version {manifest.get('version')})")


if __name__ == "__main__":
    main()
