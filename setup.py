"""Build hook: the package list, and the repository's models/ inside the wheel (issue #18).

Everything else about the build is in pyproject.toml.

Packages: the library ``audio_detect`` (``audio_detect/``) and the service, installed and
imported as ``audio_detect_service`` from the source directory ``api/`` (the mapping is
``[tool.setuptools.package-dir]`` in pyproject.toml). No package named ``api`` is
installed.

Models: A wheel carries the shipped
model directories as package data under ``audio_detect/_models``: for each directory
of ``models/`` holding a ``manifest.json``, the manifest and exactly the files it pins
(by sha256), plus ``models/DEFAULT``. ``audio_detect.registry.models_root`` finds them
there after a non-editable install (``$AUDIO_DETECT_MODELS_DIR`` overrides it). An
editable install and a source checkout read ``models/`` in place, so nothing is copied
for them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
MODELS = HERE / "models"
PACKAGED = Path("audio_detect") / "_models"
#: Import name of the service package and its source directory (pyproject.toml maps them).
SERVICE, SERVICE_DIR = "audio_detect_service", "api"


def packages() -> list[str]:
    """``audio_detect`` and its subpackages, then ``audio_detect_service`` and its own."""
    lib = find_packages(where=str(HERE), include=["audio_detect", "audio_detect.*"])
    service = find_packages(where=str(HERE / SERVICE_DIR))
    return [*lib, SERVICE, *(f"{SERVICE}.{name}" for name in service)]


def model_files(models: Path = MODELS) -> list[Path]:
    """Paths (relative to ``models``) of the files a wheel ships."""
    out = [Path("DEFAULT")] if (models / "DEFAULT").is_file() else []
    for manifest in sorted(models.glob("*/manifest.json")):
        doc = json.loads(manifest.read_text(encoding="utf-8"))
        rel = manifest.parent.relative_to(models)
        out.append(rel / "manifest.json")
        out.extend(rel / name for name in sorted(doc.get("files", {})))
    return out


class BuildPyWithModels(build_py):
    """``build_py`` that also copies the shipped models into the build tree."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False) or not MODELS.is_dir():
            return
        target = Path(self.build_lib) / PACKAGED
        if target.exists():
            shutil.rmtree(target)
        for rel in model_files():
            dest = target / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(MODELS / rel, dest)


setup(packages=packages(), cmdclass={"build_py": BuildPyWithModels})
