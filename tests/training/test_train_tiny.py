"""CI smoke runs: ``audio-detect train --config configs/tiny_*.json`` on the 4 fixtures.

Trains a tiny LCNN (16 kHz) and a tiny Whisper-feature model (8 kHz, frozen pretrained
layers; needs the ``encoder`` extra) for a few steps, exports ONNX, calibrates, writes
the model directory; then checks the directory verifies, torch and onnxruntime agree to 1e-4
on real speech, the calibration survives a JSON round trip and the serving
Detector loads and scores a file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

import typer  # noqa: E402
from extras import HAS_WHISPER_TINY  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from audio_detect.audio.io import load_audio  # noqa: E402
from audio_detect.calibration import LogisticCalibrator  # noqa: E402
from audio_detect.cli.train import train  # noqa: E402

pytestmark = pytest.mark.torch

REPO = Path(__file__).resolve().parents[2]
CONFIGS = [
    pytest.param("tiny_ci.json", id="lcnn"),
    pytest.param(
        "tiny_whisper_ci.json",
        id="whisper_cm",
        marks=pytest.mark.skipif(not HAS_WHISPER_TINY, reason="needs the encoder extra"),
    ),
]


@pytest.fixture(scope="module", params=CONFIGS)
def tiny_model(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    config = REPO / "configs" / request.param
    root = tmp_path_factory.mktemp("tiny")
    out, work = root / config.stem, root / "work"
    app = typer.Typer()
    app.command()(train)
    result = CliRunner().invoke(
        app,
        [
            "--config", str(config),
            "--manifest", str(REPO / "tests" / "training" / "data" / "tiny_manifest.csv"),
            "--out", str(out), "--work-dir", str(work),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output + repr(result.exception)
    return out, work


def test_model_dir_verifies(tiny_model: tuple[Path, Path]) -> None:
    from audio_detect.registry import load_model_dir

    out, work = tiny_model
    model = load_model_dir(out)
    m = model.manifest
    cfg = json.loads((out / "train_config.json").read_text())
    assert m["format"] == "onnx" and m["sample_rate"] == cfg["sample_rate"]
    expected = {"model.onnx", "MODEL_CARD.md", "train_config.json"}
    if cfg["model"]["arch"] == "whisper_cm":  # embeds MIT-licensed Whisper weights
        expected.add("NOTICE")
        assert "MIT License" in (out / "NOTICE").read_text()
    assert set(m["files"]) == expected
    assert m["thresholds"]["medium"] <= m["thresholds"]["high"]
    assert m["training"]["steps"] == 4
    assert m["training"]["onnx_parity_max_abs_diff"] <= 1e-4
    if cfg.get("quantize") == "int8":
        quant = m["training"]["quantization"]
        assert quant["kind"] == "dynamic_int8" and quant["n_quantized"] >= 10
    log = [json.loads(line) for line in (work / "train_log.jsonl").read_text().splitlines()]
    assert log[0]["event"] == "start" and log[-1]["event"] == "end"
    assert (work / "best.safetensors").is_file()


def test_onnx_matches_torch_on_real_speech(
    tiny_model: tuple[Path, Path], fixture_audio: dict[str, Path]
) -> None:
    from safetensors.torch import load_file

    from audio_detect.training.config import load_train_config
    from audio_detect.training.export import check_onnx_parity
    from audio_detect.training.models import build_model

    out, work = tiny_model
    cfg = load_train_config(out / "train_config.json")
    model = build_model(cfg)
    model.load_state_dict(load_file(str(work / "best.safetensors")))
    model.eval()
    sr = cfg.sample_rate
    clips = [load_audio(p, sr=sr).samples for p in fixture_audio.values()]
    quant = json.loads((out / "manifest.json").read_text())["training"].get("quantization")
    for n in (sr, min(len(c) for c in clips)):
        batch = np.stack([c[:n] for c in clips])
        if quant is None:
            assert check_onnx_parity(model, out / "model.onnx", batch, atol=1e-4) <= 1e-4
            continue
        # int8 graph (float32 parity is checked at export, see test_model_dir_verifies):
        # close to torch relative to the spread of the scores, not bit-close.
        with torch.no_grad():
            spread = float(np.ptp(model(torch.from_numpy(batch)).numpy()))
        diff = check_onnx_parity(model, out / "model.onnx", batch, atol=np.inf)
        assert 0 < diff < 0.1 * spread + 1e-3


def test_calibration_round_trip_and_detector(
    tiny_model: tuple[Path, Path], fixture_audio: dict[str, Path]
) -> None:
    from audio_detect.detector import Detector

    out, _ = tiny_model
    manifest = json.loads((out / "manifest.json").read_text())
    cal = manifest["calibration"]
    again = LogisticCalibrator.from_dict(json.loads(json.dumps(cal)))
    assert again.to_dict() == cal
    det = Detector.load(out)
    decision = det.score_file(fixture_audio["bonafide_lj001-0001"])
    assert decision.llr == pytest.approx(again.transform(decision.score))
    assert decision.tier in ("low", "medium", "high")


def test_export_of_two_checkpoints_is_one_ensemble(
    tiny_model: tuple[Path, Path], fixture_audio: dict[str, Path], tmp_path: Path
) -> None:
    from safetensors.torch import load_file, save_file

    from audio_detect.cli.train import export
    from audio_detect.detector import Detector
    from audio_detect.registry import load_model_dir

    out, work = tiny_model
    cfg = json.loads((out / "train_config.json").read_text())
    first = work / "best.safetensors"
    if cfg["model"]["arch"] != "whisper_cm":
        pytest.skip("only models with a shared frozen encoder are ensembled")
    # A second "run": the same frozen encoder, a head with other weights.
    state = load_file(str(first))
    gen = torch.Generator().manual_seed(1)
    for key, value in state.items():
        if not key.startswith(("encoder.", "frontend.")) and value.is_floating_point():
            state[key] = value + 0.2 * torch.randn(value.shape, generator=gen)
    second = tmp_path / "second.safetensors"
    save_file(state, str(second))
    app = typer.Typer()
    app.command()(export)
    target = tmp_path / "ensemble"
    args = [
        "--config", str(out / "train_config.json"),
        "--manifest", str(REPO / "tests" / "training" / "data" / "tiny_manifest.csv"),
        "--checkpoint", str(first), "--checkpoint", str(second),
        "--trained-by", str(out / "manifest.json"), "--trained-by", str(out / "manifest.json"),
        "--out", str(target),
    ]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "ensemble of 2 runs" in result.output
    m = load_model_dir(target).manifest
    members = m["training"]["ensemble"]
    assert [x["checkpoint"] for x in members] == [str(first), str(second)]
    assert all(x["steps"] == 4 for x in members)
    assert m["training"]["onnx_parity_max_abs_diff"] <= 1e-4
    single = json.loads((out / "manifest.json").read_text())["training"]["n_parameters"]
    assert m["training"]["n_parameters"] == 2 * single  # two heads, one frozen encoder
    assert "Ensemble of 2 runs" in (target / "MODEL_CARD.md").read_text()
    decision = Detector.load(target).score_file(fixture_audio["bonafide_lj001-0001"])
    assert decision.score is not None and np.isfinite(decision.score)
    # Mismatched --trained-by count is refused before any work.
    refused = tmp_path / "refused"
    one_summary = [*args[:8], "--trained-by", str(out / "manifest.json"), "--out", str(refused)]
    bad = CliRunner().invoke(app, one_summary)
    assert bad.exit_code != 0 and "one per checkpoint" in bad.output
    assert not refused.exists()


def test_export_of_two_checkpoints_of_another_architecture_is_refused_before_decoding(
    tiny_model: tuple[Path, Path], tmp_path: Path
) -> None:
    from audio_detect.exceptions import ParameterError
    from audio_detect.training.config import load_train_config
    from audio_detect.training.pipeline import export_checkpoint

    out, work = tiny_model
    cfg = load_train_config(out / "train_config.json")
    if cfg.model.arch == "whisper_cm":
        pytest.skip("whisper_cm checkpoints are ensembled (the test above)")
    ckpt = work / "best.safetensors"
    missing = tmp_path / "no_manifest.csv"  # decoding would fail on it: never reached
    with pytest.raises(ParameterError, match="whisper_cm architecture"):
        export_checkpoint(cfg, [ckpt, ckpt], out_dir=tmp_path / "x", manifest_path=missing)
    with pytest.raises(ParameterError, match="one per checkpoint"):
        export_checkpoint(
            cfg, [ckpt, ckpt], out_dir=tmp_path / "x", manifest_path=missing, trained_by={}
        )
    assert not (tmp_path / "x").exists()
