"""Every model shipped in models/ verifies, loads without torch and scores real speech."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from audio_detect.detector import Detector
from audio_detect.registry import available_models, default_model_name, load_model_dir

SHIPPED = available_models()


def test_there_is_a_default_and_it_is_shipped() -> None:
    assert default_model_name() in SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_scores_fixture_speech(name: str, fixture_audio: dict[str, Path]) -> None:
    det = Detector.load(name)
    for path in fixture_audio.values():
        d = det.score_file(path)
        assert d.verdict in ("bonafide", "spoof", "not_enough_speech")
        if d.llr is not None:
            assert np.isfinite(d.llr) and 0.0 <= d.p_spoof <= 1.0
            assert all(np.isfinite(w.score) for w in d.windows)
    card = (load_model_dir(name).path / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert name in card


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_manifest_describes_the_model(name: str) -> None:
    m = load_model_dir(name).manifest
    for key in ("sample_rate", "feature", "window", "calibration", "thresholds", "files"):
        assert key in m, key
    assert m["thresholds"]["medium"] <= m["thresholds"]["high"]
    if m["format"] == "onnx":
        assert {"model.onnx", "MODEL_CARD.md", "train_config.json"} <= set(m["files"])
        assert m["versions"]["onnxruntime"] and m["training"]["splits"]
        assert m["training"]["onnx_parity_max_abs_diff"] <= 1e-4


def test_default_model_serves_without_torch(fixture_audio: dict[str, Path]) -> None:
    """Serving needs onnxruntime + numpy only: score in a process where torch cannot load."""
    clip = fixture_audio["bonafide_8k_hts1a"]
    code = (
        "import importlib.abc, sys\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name.split('.')[0] in ('torch', 'torchaudio'):\n"
        "            raise ImportError('blocked ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from audio_detect.detector import Detector\n"
        f"d = Detector.load().score_file({str(clip)!r})\n"
        "import json; print(json.dumps({'llr': d.llr, 'mods': 'torch' in sys.modules}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    assert doc["llr"] is None or np.isfinite(doc["llr"])
    assert doc["mods"] is False


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_int8_weights_are_exact_on_every_cpu(name: str) -> None:
    """An 8-bit weight stored signed makes onnxruntime's saturating kernel score
    differently on CPUs without VNNI (2.1.0 moved by up to 3.5 logits there). A shipped
    int8 graph stores its weights as uint8 (2.1.1-2.2.0) or signed on the 7-bit grid
    (2.2.1), whose pair sums cannot saturate."""
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper

    md = load_model_dir(name)
    if md.format != "onnx":
        pytest.skip("not an ONNX model")
    model = onnx.load(str(md.file(md.spec.weights or "")))
    inits = {t.name: t for t in model.graph.initializer}
    weights = [n.input[1] for n in model.graph.node if n.op_type == "MatMulInteger"]
    signed = [w for w in weights if inits[w].data_type == onnx.TensorProto.INT8]
    q = md.manifest.get("training", {}).get("quantization")
    if not weights:
        return
    assert q is not None
    if q.get("weight_bits") == 7:
        assert q["weight_storage"] == "int8" and len(signed) == len(weights)
        peak = max(int(abs(numpy_helper.to_array(inits[w]).astype(int)).max()) for w in signed)
        assert peak <= 64, f"{name}: a 7-bit weight reaches {peak}"
    else:
        assert not signed, f"{name}: int8-stored MatMulInteger weights {signed[:3]}"
        assert q["weight_storage"] == "uint8"
