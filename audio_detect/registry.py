"""The models directory: list shipped detectors, load one by name or path.

A model directory is self-describing: ``manifest.json`` holds the format, the
feature, window and VAD configuration, the calibration, the tier thresholds and the
sha256 of every other file. Loading verifies every hash before anything is read,
and no file is ever unpickled (weights are ONNX or safetensors).

This module is the only reader of ``manifest.json`` in the library
(:func:`read_manifest`); :func:`load_model_dir` parses it once into a validated
:class:`~audio_detect.spec.ModelSpec` (``ModelDir.spec``) and refuses a manifest whose
fields contradict each other.

Where the models are (:func:`models_root`), first match wins:

1. ``$AUDIO_DETECT_MODELS_DIR``, when set;
2. the models installed with the package (``audio_detect/_models`` inside a wheel,
   copied from the repository's ``models/`` at build time, see ``setup.py``);
3. the repository's ``models/`` next to the source tree (a checkout or an editable
   install).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import FeatureConfig, LimitsConfig, VadConfig, WindowConfig
from .exceptions import (
    IncompatibleModelError,
    ManifestError,
    ModelIntegrityError,
    ModelNotFoundError,
)
from .spec import SUPPORTED_FORMATS, ModelSpec

__all__ = [
    "MANIFEST_NAME",
    "MODELS_DIR_ENV",
    "SUPPORTED_FORMATS",
    "ModelDir",
    "ModelSpec",
    "available_models",
    "default_model_name",
    "describe_model_dir",
    "list_model_dirs",
    "load_model_dir",
    "models_root",
    "read_manifest",
    "sha256_file",
    "write_manifest",
]

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
MODELS_DIR_ENV = "AUDIO_DETECT_MODELS_DIR"
_DEFAULT_FILE = "DEFAULT"
#: Where a built wheel carries the shipped models (package data, see setup.py).
PACKAGED_MODELS = Path(__file__).resolve().parent / "_models"
#: The repository's models directory (a source checkout or an editable install).
SOURCE_MODELS = Path(__file__).resolve().parent.parent / "models"


def models_root() -> Path:
    """Return the models directory.

    ``$AUDIO_DETECT_MODELS_DIR`` when set, else the models installed with the package
    (a wheel), else the repository's ``models/`` (a checkout or editable install).
    """
    env = os.environ.get(MODELS_DIR_ENV)
    if env:
        return Path(env)
    if (PACKAGED_MODELS / _DEFAULT_FILE).is_file():
        return PACKAGED_MODELS
    return SOURCE_MODELS


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
        The raw ``manifest.json`` (for listings: metrics, training, versions).
    sha256 : str
        sha256 of ``manifest.json`` itself: one fingerprint of the whole model,
        since the manifest pins every other file's hash.
    spec : ModelSpec
        The validated settings the model runs with; parsed from ``manifest`` when
        not given.
    """

    path: Path
    manifest: dict[str, Any]
    sha256: str
    spec: ModelSpec = field(default=None, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.spec is None:  # built by hand: parse (load_model_dir passes its spec)
            spec = ModelSpec.from_manifest(self.manifest, path=self.path / MANIFEST_NAME)
            object.__setattr__(self, "spec", spec)

    @property
    def feature(self) -> FeatureConfig:
        """Feature front end (``spec.feature``)."""
        return self.spec.feature

    @property
    def window(self) -> WindowConfig:
        """Window rule (``spec.window``)."""
        return self.spec.window

    @property
    def vad(self) -> VadConfig:
        """Speech finder settings (``spec.vad``)."""
        return self.spec.vad

    @property
    def limits(self) -> LimitsConfig:
        """Input limits (``spec.limits``)."""
        return self.spec.limits

    @property
    def name(self) -> str:
        """Model name."""
        return self.spec.name if "name" in self.manifest else self.path.name

    @property
    def version(self) -> str:
        """Model version string."""
        return self.spec.version

    @property
    def format(self) -> str:
        """Storage format: ``gmm``, ``onnx`` or ``fusion`` (of other model directories)."""
        return self.spec.format

    @property
    def model_rate(self) -> int:
        """Rate the model runs at (Hz)."""
        return self.spec.model_rate

    @property
    def sample_rate(self) -> int:
        """Alias of :attr:`model_rate`."""
        return self.spec.model_rate

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


def load_model_dir(
    name_or_path: str | Path | None = None,
    *,
    root: Path | None = None,
    unverified: Collection[str] = (),
) -> ModelDir:
    """Load and verify a model directory.

    Parameters
    ----------
    name_or_path : str or Path, optional
        A model name inside ``root`` or a directory path; ``None`` loads the default.
    root : Path, optional
        Models directory; defaults to :func:`models_root`.
    unverified : collection of str, optional
        Listed files whose sha256 is not checked: only for a tool about to rewrite them
        and their hash (``audio-detect models --refresh-card`` re-renders a card whose
        text a maintainer edited). Every other file is verified as usual.

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
    manifest = read_manifest(path)
    listed = manifest.get("files")
    for fname in listed if isinstance(listed, dict) else ():
        if path.resolve() not in (path / fname).resolve().parents:
            raise ModelIntegrityError(f"{manifest_path}: file {fname!r} escapes the model dir")
    # Parsed and cross-checked before any other file is hashed or read.
    spec = ModelSpec.from_manifest(manifest, path=manifest_path)
    files = spec.files
    for fname, expected in files.items():
        fpath = (path / fname).resolve()
        if not fpath.is_file():
            raise ModelIntegrityError(f"{path.name}: listed file {fname!r} is missing")
        if fname in unverified:
            continue
        actual = sha256_file(fpath)
        if actual != expected:
            raise ModelIntegrityError(
                f"{path.name}: sha256 of {fname!r} is {actual}, manifest says {expected}; "
                "the file was modified or corrupted. Refusing to load it."
            )
    logger.debug("verified model %s (%d files)", path, len(files))
    return ModelDir(path=path, manifest=manifest, sha256=sha256_file(manifest_path), spec=spec)


def read_manifest(model_dir: str | Path) -> dict[str, Any]:
    """The raw ``manifest.json`` of ``model_dir`` (a dict; unverified, not validated).

    For tools that rewrite a manifest (model cards, exports); everything that runs a
    model goes through :func:`load_model_dir` and its :class:`ModelSpec`.
    """
    manifest_path = Path(model_dir) / MANIFEST_NAME
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IncompatibleModelError(f"Cannot read {manifest_path}: {exc}") from exc
    if not isinstance(manifest, dict):
        raise ManifestError(
            f"{manifest_path}: manifest must be a JSON object", path=manifest_path, field="manifest"
        )
    return manifest


def describe_model_dir(path: str | Path) -> ModelDir:
    """A model directory for listings: its manifest parsed into a :class:`ModelSpec`.

    The manifest is read and cross-checked (a contradictory one raises
    :class:`~audio_detect.exceptions.ManifestError`) but the files it pins are not
    hashed: use :func:`load_model_dir` to run a model.
    """
    path = Path(path)
    manifest = read_manifest(path)
    spec = ModelSpec.from_manifest(manifest, path=path / MANIFEST_NAME)
    return ModelDir(
        path=path, manifest=manifest, sha256=sha256_file(path / MANIFEST_NAME), spec=spec
    )


def list_model_dirs(root: Path | None = None) -> dict[str, ModelDir]:
    """Directory name -> :func:`describe_model_dir` for every model under ``root``.

    A model whose manifest cannot be read or is refused is logged and left out.
    """
    root = root or models_root()
    out: dict[str, ModelDir] = {}
    for name in available_models(root):
        try:
            out[name] = describe_model_dir(root / name)
        except (OSError, IncompatibleModelError) as exc:
            logger.warning("skipping model %s: %s", name, exc)
    return out


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
