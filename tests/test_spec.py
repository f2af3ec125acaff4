"""ModelSpec: one validated, frozen reading of manifest.json (issue #18)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from audio_detect.config import LimitsConfig, VadConfig
from audio_detect.constants import DEFAULT_MAX_SECONDS, DEFAULT_VAD_AGGRESSIVENESS
from audio_detect.detector import Detector
from audio_detect.exceptions import IncompatibleModelError, ManifestError
from audio_detect.registry import MANIFEST_NAME, load_model_dir, models_root
from audio_detect.spec import ModelSpec

SHIPPED = models_root()


def _copy(name: str, tmp_path: Path) -> tuple[Path, dict]:
    out = tmp_path / name
    shutil.copytree(SHIPPED / name, out)
    return out, json.loads((out / MANIFEST_NAME).read_text())


def _write(model: Path, doc: dict) -> None:
    # manifest.json pins the other files' hashes, not its own: editing it is what a
    # careless copy would do, and the spec has to catch the contradiction.
    (model / MANIFEST_NAME).write_text(json.dumps(doc))


def test_contradictory_rates_are_refused_naming_field_values_and_file(tmp_path: Path) -> None:
    model, doc = _copy("lfcc-gmm-8k", tmp_path)
    doc["feature"]["sr"] = 16000
    _write(model, doc)
    with pytest.raises(ManifestError) as info:
        load_model_dir(model)
    msg = str(info.value)
    assert "feature.sr" in msg and "sample_rate" in msg
    assert "16000" in msg and "8000" in msg
    assert str(model / MANIFEST_NAME) in msg
    assert isinstance(info.value, IncompatibleModelError)  # the API maps it like before
    assert info.value.field == "'feature.sr' vs 'sample_rate'"
    with pytest.raises(ManifestError):
        Detector.load(model)


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d["feature"].update(fmax=6000.0), "feature.fmax"),
        (lambda d: d.update(weights="other.safetensors"), "'weights' vs 'files'"),
        (lambda d: d.update(sample_rate="8000"), "sample_rate"),
        (lambda d: d.update(vad={"aggressiveness": 7}), "vad"),
        (lambda d: d.update(vad={"mode": 2}), "vad"),
        (lambda d: d.update(limits={"max_seconds": 0}), "limits"),
        (lambda d: d.update(prior=1.0), "prior"),
        (lambda d: d["calibration"].update(kind="isotonic"), "calibration.kind"),
        (lambda d: d["thresholds"].update(medium=9.0, high=1.0), "thresholds"),
        (lambda d: d.pop("feature"), "feature"),
    ],
)
def test_malformed_or_inconsistent_fields_are_refused(tmp_path: Path, edit, field: str) -> None:
    model, doc = _copy("lfcc-gmm-8k", tmp_path)
    edit(doc)
    _write(model, doc)
    with pytest.raises(ManifestError, match=field.replace("'", ".")):
        load_model_dir(model)


@pytest.mark.parametrize("name", ["lfcc-gmm-8k", "whisper-cm-8k"])
def test_shipped_manifests_parse_with_todays_defaults(name: str) -> None:
    m = load_model_dir(name)
    spec = m.spec
    assert spec.model_rate == spec.feature.sr == m.sample_rate == 8000
    # Written before the fields existed: the defaults are what they were evaluated with.
    assert "vad" not in m.manifest and "limits" not in m.manifest
    assert spec.vad == VadConfig() and spec.vad.aggressiveness == DEFAULT_VAD_AGGRESSIVENESS == 2
    assert spec.limits == LimitsConfig() and spec.limits.max_seconds == DEFAULT_MAX_SECONDS
    assert spec.thresholds is not None and spec.weights in spec.files
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.model_rate = 16000  # type: ignore[misc]
    with pytest.raises(TypeError):
        spec.files["x"] = "y"  # type: ignore[index]


def test_vad_and_limits_from_the_manifest_drive_the_detector(tmp_path: Path) -> None:
    model, doc = _copy("lfcc-gmm-8k", tmp_path)
    default = Detector.load(model)
    assert default.vad == VadConfig() and default.max_seconds == DEFAULT_MAX_SECONDS
    doc["vad"] = {"aggressiveness": 3, "pad_ms": 0}
    doc["limits"] = {"max_seconds": 2.0}
    _write(model, doc)
    det = Detector.load(model)
    assert det.vad == VadConfig(aggressiveness=3, pad_ms=0) and det.vad_aggressiveness == 3
    assert det.max_seconds == 2.0
    rng = np.random.default_rng(0)
    y = (0.1 * rng.standard_normal(3 * 8000)).astype(np.float32)
    from audio_detect.audio.vad import speech_regions

    assert np.array_equal(det.speech_regions(y), speech_regions(y, sr=8000, **det.vad.kwargs()))
    # The constructor argument still overrides the mode only.
    assert Detector(det.model, vad_aggressiveness=1).vad == VadConfig(aggressiveness=1, pad_ms=0)


def test_spec_is_parsed_once_by_the_registry(tmp_path: Path, monkeypatch) -> None:
    model, _ = _copy("lfcc-gmm-8k", tmp_path)
    calls = []
    original = ModelSpec.from_manifest.__func__  # type: ignore[attr-defined]

    def counting(cls, manifest, *, path):
        calls.append(path)
        return original(cls, manifest, path=path)

    monkeypatch.setattr(ModelSpec, "from_manifest", classmethod(counting))
    det = Detector.load(model)
    assert len(calls) == 1 and det.spec is det.model.spec
    assert det.model_rate == det.sample_rate == 8000
