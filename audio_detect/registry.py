"""The ``models/`` directory: list shipped detectors, load one by name or path.

A model directory is self-describing: ``manifest.json`` holds the format, the
feature and window configuration, the calibration, the tier thresholds and the
sha256 of every other file. Loading verifies every hash before anything is read,
and no file is ever unpickled (weights are ONNX or safetensors).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import FeatureConfig, WindowConfig
from .exceptions import IncompatibleModelError, ModelIntegrityError, ModelNotFoundError

__all__ = [
    "MANIFEST_NAME",
    "ModelDir",
    "available_models",
    "default_model_name",
    "load_model_dir",
    "models_root",
    "sha256_file",
    "write_manifest",
]

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
SUPPORTED_FORMATS = ("gmm", "onnx", "fusion")
_DEFAULT_FILE = "DEFAULT"


def models_root() -> Path:
    """Return the models directory: ``$AUDIO_DETECT_MODELS_DIR`` or the repository's ``models/``."""
    env = os.environ.get("AUDIO_DETECT_MODELS_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "models"


def sha256_file(path: str | Path, *, chunk_size: int = 1 << 20) -> str:
    """Return the hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk_size):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class ModelDir:
    """A verified model directory.

    Attributes
    ----------
    path : Path
        The directory.
    manifest : dict
        Parsed ``manifest.json``.
    sha256 : str
        sha256 of ``manifest.json`` itself: one fingerprint of the whole model,
        since the manifest pins every other file's hash.
    """

    path: Path
    manifest: dict[str, Any]
    sha256: str
    feature: FeatureConfig = field(init=False)
    window: WindowConfig = field(init=False)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "feature", FeatureConfig.from_dict(self.manifest["feature"]))
            object.__setattr__(self, "window", WindowConfig.from_dict(self.manifest["window"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise IncompatibleModelError(
                f"{self.path / MANIFEST_NAME}: invalid feature/window config: {exc}"
            ) from exc

    @property
    def name(self) -> str:
        """Model name."""
        return str(self.manifest.get("name", self.path.name))

    @property
    def version(self) -> str:
        """Model version string."""
        return str(self.manifest.get("version", "0"))

    @property
    def format(self) -> str:
        """Storage format: ``gmm``, ``onnx`` or ``fusion`` (of other model directories)."""
        return str(self.manifest["format"])

    @property
    def sample_rate(self) -> int:
        """Rate the model runs at."""
        return int(self.manifest["sample_rate"])

    def file(self, name: str) -> Path:
        """Path of a file listed in the manifest."""
        if name not in self.manifest.get("files", {}):
            raise IncompatibleModelError(f"{self.path}: manifest lists no file {name!r}")
        return self.path / name

    def info(self) -> dict[str, Any]:
        """Summary for listings and API responses (name, version, sha, card metrics)."""
        return {
            "name": self.name,
            "version": self.version,
            "format": self.format,
            "sha256": self.sha256,
            "sample_rate": self.sample_rate,
            "description": self.manifest.get("description", ""),
            "metrics": self.manifest.get("metrics", {}),
        }


def _resolve(name_or_path: str | Path, root: Path) -> Path:
    p = Path(name_or_path)
    if p.is_dir():
        return p
    # A bare name resolves only inside the models root (no path traversal).
    name = str(name_or_path)
    if "/" in name or "\\" in name or name in ("", ".", ".."):
        raise ModelNotFoundError(f"No model directory at {name_or_path!r}.")
    candidate = root / name
    if not (candidate / MANIFEST_NAME).is_file():
        known = ", ".join(available_models(root)) or "none"
        raise ModelNotFoundError(f"No model named {name!r} in {root} (available: {known}).")
    return candidate


def load_model_dir(name_or_path: str | Path | None = None, *, root: Path | None = None) -> ModelDir:
    """Load and verify a model directory.

    Parameters
    ----------
    name_or_path : str or Path, optional
        A model name inside ``root`` or a directory path; ``None`` loads the default.
    root : Path, optional
        Models directory; defaults to :func:`models_root`.

    Raises
    ------
    ModelNotFoundError
        No such model.
    ModelIntegrityError
        A listed file is missing or its sha256 differs from the manifest.
    IncompatibleModelError
        The manifest is unreadable or of an unsupported format.
    """
    root = root or models_root()
    if name_or_path is None:
        name_or_path = default_model_name(root)
    path = _resolve(name_or_path, root)
    manifest_path = path / MANIFEST_NAME
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IncompatibleModelError(f"Cannot read {manifest_path}: {exc}") from exc
    if manifest.get("format") not in SUPPORTED_FORMATS:
        raise IncompatibleModelError(
            f"{manifest_path}: format {manifest.get('format')!r} is not one of {SUPPORTED_FORMATS}"
        )
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise IncompatibleModelError(f"{manifest_path}: 'files' must map file names to sha256")
    for fname, expected in files.items():
        fpath = (path / fname).resolve()
        if path.resolve() not in fpath.parents:
            raise ModelIntegrityError(f"{manifest_path}: file {fname!r} escapes the model dir")
        if not fpath.is_file():
            raise ModelIntegrityError(f"{path.name}: listed file {fname!r} is missing")
        actual = sha256_file(fpath)
        if actual != expected:
            raise ModelIntegrityError(
                f"{path.name}: sha256 of {fname!r} is {actual}, manifest says {expected}; "
                "the file was modified or corrupted. Refusing to load it."
            )
    logger.debug("verified model %s (%d files)", path, len(files))
    return ModelDir(path=path, manifest=manifest, sha256=sha256_file(manifest_path))


def available_models(root: Path | None = None) -> list[str]:
    """Names of the model directories under ``root`` (sorted; unverified)."""
    root = root or models_root()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / MANIFEST_NAME).is_file())


def default_model_name(root: Path | None = None) -> str:
    """Name in ``models/DEFAULT``, else the only model present."""
    root = root or models_root()
    default_file = root / _DEFAULT_FILE
    if default_file.is_file():
        return default_file.read_text(encoding="utf-8").strip()
    names = available_models(root)
    if len(names) == 1:
        return names[0]
    raise ModelNotFoundError(
        f"No default model: write a model name into {default_file} (available: {names})."
    )


def write_manifest(path: Path, manifest: dict[str, Any]) -> Path:
    """Hash every file in ``manifest['files']`` (keys) inside ``path`` and write manifest.json."""
    manifest = dict(manifest)
    manifest["files"] = {name: sha256_file(path / name) for name in sorted(manifest["files"])}
    out = path / MANIFEST_NAME
    out.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return out
