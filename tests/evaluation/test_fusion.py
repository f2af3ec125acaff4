"""Logistic-regression score fusion: fitting, serving, integrity pinning of members."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from audio_detect.audio.io import load_audio
from audio_detect.cli import app
from audio_detect.datasets.manifest import Utterance
from audio_detect.detector import Detector
from audio_detect.evaluation.fusion import fit_fusion
from audio_detect.exceptions import IncompatibleModelError, ModelIntegrityError, ParameterError
from audio_detect.registry import load_model_dir, write_manifest


@pytest.fixture(scope="module")
def root(
    tmp_path_factory: pytest.TempPathFactory, fixture_audio: dict[str, Path], gmm_dir_factory
) -> Path:
    root = tmp_path_factory.mktemp("fusion_models")
    gmm_dir_factory(root, "gmm-lfcc", fixture_audio, kind="lfcc")
    gmm_dir_factory(root, "gmm-mfcc", fixture_audio, kind="mfcc")
    return root


def _dev(fixture_audio: dict[str, Path]) -> list[Utterance]:
    return [
        Utterance(
            utt_id=stem,
            path=path,
            label=int(stem.startswith("spoof")),
            system="bonafide" if stem.startswith("bonafide") else stem,
        )
        for stem, path in fixture_audio.items()
    ]


@pytest.fixture(scope="module")
def fused(root: Path, fixture_audio: dict[str, Path]) -> Path:
    fit_fusion(["gmm-lfcc", "gmm-mfcc"], _dev(fixture_audio), out_dir=root / "fused")
    return root / "fused"


def test_fused_window_scores_are_the_fitted_linear_combination(
    fused: Path, root: Path, fixture_audio: dict[str, Path]
) -> None:
    doc = json.loads((fused / "manifest.json").read_text())
    assert doc["format"] == "fusion" and [m["name"] for m in doc["members"]] == [
        "gmm-lfcc",
        "gmm-mfcc",
    ]
    det = Detector.load(fused)
    members = [Detector.load(root / m["name"]) for m in doc["members"]]
    y = load_audio(fixture_audio["spoof_hn-nsf_slt_arctic_b0474"], sr=8000).samples
    windows = det.speech_windows(y).stacked()
    expected = doc["fusion_bias"] + sum(
        m["weight"] * d.backend.score_windows(windows)
        for m, d in zip(doc["members"], members, strict=True)
    )
    np.testing.assert_allclose(det.backend.score_windows(windows), expected, rtol=1e-12)
    decision = det.score_samples(y)
    assert decision.verdict in ("spoof", "bonafide") and decision.model["name"] == "fused"
    # The calibration was fitted on dev: the fused scores separate the dev trials here.
    scores = {s: det.score_file(p).score for s, p in fixture_audio.items()}
    assert min(v for k, v in scores.items() if k.startswith("spoof")) > min(
        v for k, v in scores.items() if k.startswith("bonafide")
    )


def test_a_changed_member_is_refused(
    fused: Path, root: Path, tmp_path: Path, fixture_audio: dict[str, Path], gmm_dir_factory
) -> None:
    copy = tmp_path / "models"
    shutil.copytree(root, copy)
    # Retrain a member in place: it verifies on its own, but not against the fusion's pin.
    shutil.rmtree(copy / "gmm-mfcc")
    gmm_dir_factory(copy, "gmm-mfcc", dict(list(fixture_audio.items())[1:]), kind="mfcc")
    load_model_dir(copy / "gmm-mfcc")
    with pytest.raises(ModelIntegrityError, match="refit the fusion"):
        Detector.load(copy / "fused")


def test_members_must_share_a_rate_and_not_nest(
    fused: Path, root: Path, tmp_path: Path, fixture_audio: dict[str, Path]
) -> None:
    copy = tmp_path / "models"
    shutil.copytree(root, copy)
    doc = json.loads((copy / "gmm-mfcc" / "manifest.json").read_text())
    doc["sample_rate"] = 16000
    doc["feature"]["sr"] = 16000  # a consistent 16 kHz member (a contradiction is refused)
    doc["files"] = list(doc["files"])
    write_manifest(copy / "gmm-mfcc", doc)
    with pytest.raises(ParameterError):
        fit_fusion(["gmm-lfcc", "gmm-mfcc"], _dev(fixture_audio), out_dir=copy / "f2")
    with pytest.raises(IncompatibleModelError):
        Detector.load(copy / "fused")
    with pytest.raises(ParameterError):
        fit_fusion(["gmm-lfcc"], _dev(fixture_audio), out_dir=copy / "f3")


def test_cli_fuse(root: Path, fixture_audio: dict[str, Path], tmp_path: Path) -> None:
    manifest = tmp_path / "dev.csv"
    lines = ["path,label,system,split"] + [
        f"{p},{'spoof' if s.startswith('spoof') else 'bonafide'},{s},dev"
        for s, p in fixture_audio.items()
    ]
    manifest.write_text("\n".join(lines) + "\n")
    out = root / "cli-fused"
    result = CliRunner().invoke(
        app,
        ["fuse", "--member", "gmm-lfcc", "--member", "gmm-mfcc",
         "--manifest", str(manifest), "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "weights gmm-lfcc" in " ".join(result.output.split())  # rich may wrap
    assert load_model_dir(out).format == "fusion"
