import json
import shutil

import pytest

from audio_detect.exceptions import IncompatibleModelError, ModelIntegrityError, ModelNotFoundError
from audio_detect.registry import available_models, default_model_name, load_model_dir


def test_load_verifies_and_describes(tiny_gmm_dir) -> None:
    m = load_model_dir(tiny_gmm_dir)
    assert m.name == "tiny-gmm" and m.format == "gmm" and m.sample_rate == 8000
    assert len(m.sha256) == 64
    assert m.feature.kind == "lfcc" and m.window.window_seconds == 2.0
    assert load_model_dir("tiny-gmm", root=tiny_gmm_dir.parent).sha256 == m.sha256


def test_tampered_file_is_refused(tiny_gmm_dir, tmp_path) -> None:
    copy = tmp_path / "tiny-gmm"
    shutil.copytree(tiny_gmm_dir, copy)
    with open(copy / "gmm.safetensors", "r+b") as fh:
        fh.seek(-1, 2)
        last = fh.read(1)
        fh.seek(-1, 2)
        fh.write(bytes([last[0] ^ 0xFF]))
    with pytest.raises(ModelIntegrityError, match="sha256"):
        load_model_dir(copy)
    (copy / "gmm.safetensors").unlink()
    with pytest.raises(ModelIntegrityError, match="missing"):
        load_model_dir(copy)


def test_bad_manifests(tiny_gmm_dir, tmp_path) -> None:
    copy = tmp_path / "m"
    shutil.copytree(tiny_gmm_dir, copy)
    doc = json.loads((copy / "manifest.json").read_text())
    doc["format"] = "pickle"
    (copy / "manifest.json").write_text(json.dumps(doc))
    with pytest.raises(IncompatibleModelError, match="format"):
        load_model_dir(copy)
    doc["format"] = "gmm"
    doc["files"] = {"../../etc/passwd": "0" * 64}
    (copy / "manifest.json").write_text(json.dumps(doc))
    with pytest.raises(ModelIntegrityError, match="escapes"):
        load_model_dir(copy)
    (copy / "manifest.json").write_text("{not json")
    with pytest.raises(IncompatibleModelError):
        load_model_dir(copy)


def test_names_and_default(tiny_gmm_dir, tmp_path) -> None:
    root = tiny_gmm_dir.parent
    assert available_models(root) == ["tiny-gmm"]
    assert default_model_name(root) == "tiny-gmm"
    with pytest.raises(ModelNotFoundError, match="available: tiny-gmm"):
        load_model_dir("nope", root=root)
    with pytest.raises(ModelNotFoundError):
        load_model_dir("../tiny-gmm", root=root)
    assert available_models(tmp_path / "none") == []


def test_shipped_default_model_loads() -> None:
    # The repository ships a default model whose hashes must verify.
    m = load_model_dir()
    assert m.manifest["files"]


def test_listings_parse_the_spec_without_hashing_and_skip_a_refused_manifest(
    tiny_gmm_dir, tmp_path
) -> None:
    from audio_detect.exceptions import ManifestError
    from audio_detect.registry import describe_model_dir, list_model_dirs

    good = tmp_path / "good"
    shutil.copytree(tiny_gmm_dir, good)
    (good / "gmm.safetensors").write_bytes(b"not hashed for a listing")
    bad = tmp_path / "bad"
    shutil.copytree(tiny_gmm_dir, bad)
    manifest = json.loads((bad / "manifest.json").read_text())
    manifest["feature"]["sr"] = manifest["sample_rate"] * 2  # contradicts sample_rate
    (bad / "manifest.json").write_text(json.dumps(manifest))
    listed = list_model_dirs(tmp_path)
    assert list(listed) == ["good"]
    assert listed["good"].spec.model_rate == listed["good"].model_rate == manifest["sample_rate"]
    with pytest.raises(ManifestError, match=r"feature\.sr"):
        describe_model_dir(bad)
