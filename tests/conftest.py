"""Shared fixtures: paths to committed audio, the shared corpus (optional), a tiny model."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from system_deps import SYSTEM_DEPS, missing_reason, torch_pair_error

REPO = Path(__file__).resolve().parent.parent
FIXTURE_AUDIO = REPO / "tests" / "fixtures" / "audio"


# --------------------------------------------------------------------------- system packages


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "requires(*names): needs these system packages (tests/system_deps.py); "
        "skipped, with the Debian package named, when one is missing",
    )
    error = torch_pair_error()
    if error and not any(isinstance(f, _TorchOff) for f in sys.meta_path):
        # One failure (tests/test_environment.py) instead of an import error in every
        # torch test module: `import torch` raises ModuleNotFoundError with the reason,
        # so their importorskip skips them.
        sys.meta_path.insert(0, _TorchOff(error))


class _TorchOff(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Makes ``import torch``/``torchaudio`` fail when the two do not load together."""

    def __init__(self, error: str) -> None:
        self.message = (
            f"torch and torchaudio do not load together ({error}); "
            "tests/test_environment.py fails with the fix"
        )

    def find_spec(self, fullname, path=None, target=None):
        if fullname.partition(".")[0] in ("torch", "torchaudio"):
            return importlib.machinery.ModuleSpec(fullname, self)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        raise ModuleNotFoundError(self.message, name=module.__name__)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``@pytest.mark.requires("sox")``: skip, naming the Debian package, when it is missing;
    ``@pytest.mark.torch``: skip when torch and torchaudio do not load together."""
    torch_off = next((f.message for f in sys.meta_path if isinstance(f, _TorchOff)), None)
    for item in items:
        names = [name for mark in item.iter_markers("requires") for name in mark.args]
        reasons = [r for r in map(missing_reason, dict.fromkeys(names)) if r]
        if torch_off and item.get_closest_marker("torch"):
            reasons.append(torch_off)
        if reasons:
            item.add_marker(pytest.mark.skip(reason="; ".join(reasons)))


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """One line per missing system package: how many tests it skipped, how to get it."""
    counts: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = str(longrepr[2]) if isinstance(longrepr, (tuple, list)) else ""
        for name in SYSTEM_DEPS:
            if f"needs {name} for " in reason:
                counts[name] = counts.get(name, 0) + 1
    if not counts:
        return
    terminalreporter.section("missing system packages (skipped, not failed)")
    for name, n in counts.items():
        dep = SYSTEM_DEPS[name]
        terminalreporter.write_line(
            f"{name}: {n} test(s) skipped; apt-get install {dep.packages} unlocks {dep.unlocks}"
        )


def shared_dir() -> Path:
    """``$AUDIO_DETECT_SHARED`` (when set and not empty) or ``<repo>/../shared``."""
    return Path(os.environ.get("AUDIO_DETECT_SHARED") or REPO.parent / "shared")


@pytest.fixture(scope="session")
def shared_corpus() -> Path:
    """The developers' corpus; skips the test when it is absent (a user's fresh clone)."""
    path = shared_dir() / "corpus"
    if not (path / "manifest.csv").is_file():
        pytest.skip(f"shared corpus not found at {path}")
    return path


@pytest.fixture(scope="session")
def asvspoof2019_protocols() -> Path:
    """The official ASVspoof 2019 LA CM protocols in the shared corpus; skips when absent."""
    path = shared_dir() / "corpus" / "asvspoof2019_protocols"
    if not path.is_dir():
        pytest.skip(f"ASVspoof 2019 protocols not found in {path}")
    return path


@pytest.fixture(scope="session")
def reference_scores() -> dict[str, Path]:
    """Official scores on ASVspoof 2019 LA eval (``<shared>/reference_scores/README.md``).

    Keys: ``protocol`` (the eval CM protocol), ``rawgat`` (RawGAT-ST text scores),
    ``lfcc_gmm`` (LFCC-GMM ``.mat`` scores) and ``asv`` (the ASV score file). Skips the
    test unless all four files are present.
    """
    shared = shared_dir()
    ref = shared / "reference_scores"
    files = {
        "protocol": (
            shared / "corpus" / "asvspoof2019_protocols" / "ASVspoof2019.LA.cm.eval.trl.txt"
        ),
        "rawgat": ref / "rawgat_st_mul_LA19_eval_scores.txt",
        "lfcc_gmm": ref / "lfcc_highres_gmm_LA19_eval_scores.mat",
        "asv": ref / "ASVspoof2019.LA.asv.eval.gi.trl.scores.txt",
    }
    if not all(f.is_file() for f in files.values()):
        pytest.skip(f"reference scores not found under {shared}")
    return files


@pytest.fixture(scope="session")
def fixture_audio() -> dict[str, Path]:
    """The committed example clips by stem."""
    return {p.stem: p for p in sorted(FIXTURE_AUDIO.glob("*.flac"))}


def make_gmm_dir(
    root: Path, name: str, fixture_audio: dict[str, Path], *, kind: str = "lfcc"
) -> Path:
    """Train a tiny 8 kHz GMM model directory on the four fixture clips (about a second)."""
    from audio_detect.audio.io import load_audio
    from audio_detect.classifiers.gmm import GMMClassifier
    from audio_detect.config import FeatureConfig, WindowConfig
    from audio_detect.features import compute_features
    from audio_detect.registry import write_manifest

    feature = FeatureConfig(kind=kind, sr=8000, n_fft=256, win_length=160, hop_length=80)
    feats, labels = [], []
    for stem, path in fixture_audio.items():
        y = load_audio(path, sr=8000).samples
        feats.append(compute_features(y, config=feature))
        labels.append(int(stem.startswith("spoof")))
    clf = GMMClassifier(n_components=4, max_iter=20, random_state=0).fit(feats, labels)
    out = root / name
    out.mkdir()
    clf.save(out / "gmm.safetensors")
    write_manifest(
        out,
        {
            "name": name,
            "version": "0.0.1",
            "format": "gmm",
            "weights": "gmm.safetensors",
            "sample_rate": 8000,
            "feature": feature.to_dict(),
            "window": WindowConfig(window_seconds=2.0, hop_seconds=1.0).to_dict(),
            "calibration": {"kind": "logistic", "a": 0.5, "b": 0.1},
            "thresholds": {"medium": 1.0, "high": 3.0},
            "prior": 0.5,
            "files": ["gmm.safetensors"],
        },
    )
    assert np.isfinite(clf.decision_function(feats)).all()
    return out


@pytest.fixture(scope="session")
def gmm_dir_factory():
    """:func:`make_gmm_dir` (tests import it through this fixture: with several
    ``conftest`` modules in the tree, ``from conftest import ...`` is ambiguous)."""
    return make_gmm_dir


@pytest.fixture(scope="session")
def tiny_gmm_dir(tmp_path_factory: pytest.TempPathFactory, fixture_audio: dict[str, Path]) -> Path:
    """A real GMM model directory trained in a second on the four fixture clips."""
    return make_gmm_dir(tmp_path_factory.mktemp("models"), "tiny-gmm", fixture_audio)
