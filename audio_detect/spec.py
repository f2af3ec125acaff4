"""ModelSpec: the typed, validated content of a model directory's ``manifest.json``.

A model directory is described by one JSON file. :func:`ModelSpec.from_manifest` is
the only place the library turns that file's fields into settings: the registry
parses it once when a model is loaded (:func:`audio_detect.registry.load_model_dir`)
and every consumer (the detector, live streams, batch jobs, evaluation, fusion, the
service) reads the frozen spec instead of the raw dict.

Fields (``manifest.json`` key -> attribute)::

    sample_rate        -> model_rate       the rate the model runs at (Hz)
    feature            -> feature          FeatureConfig; feature.sr must equal sample_rate
    window             -> window           WindowConfig (length, hop, minimum speech, top-k)
    vad                -> vad              VadConfig (default: the behaviour of every
                                           manifest written before the field existed)
    limits             -> limits           LimitsConfig (default max_seconds: 4 hours)
    calibration        -> calibration      CalibrationSpec (logistic, a, b, prior)
    thresholds         -> thresholds       TierThresholds, or None when absent
    prior              -> prior            operating P(spoof) (default 0.5)
    weights            -> weights          weights file (default by format)
    members, fusion_bias                   the members of a ``fusion`` model

A manifest whose fields contradict each other (``feature.sr`` against
``sample_rate``, ``feature.fmax`` above Nyquist, a weights file it does not list, a
fusion without members) is refused with :class:`~audio_detect.exceptions.ManifestError`
naming the file, the fields and their values: a model must never run on settings
other than the ones it was trained and calibrated with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .calibration import TierThresholds
from .config import FeatureConfig, LimitsConfig, VadConfig, WindowConfig
from .constants import DEFAULT_PRIOR
from .exceptions import AudioDetectError, ManifestError

__all__ = [
    "DEFAULT_WEIGHTS",
    "SUPPORTED_FORMATS",
    "CalibrationSpec",
    "FusionMember",
    "ModelSpec",
]

SUPPORTED_FORMATS = ("gmm", "onnx", "fusion")

#: Weights file of a format when the manifest names none.
DEFAULT_WEIGHTS = {"gmm": "gmm.safetensors", "onnx": "model.onnx"}


@dataclass(frozen=True)
class CalibrationSpec:
    """Affine score-to-LLR map ``llr = a * score + b`` fitted at ``prior``."""

    a: float = 1.0
    b: float = 0.0
    prior: float = DEFAULT_PRIOR
    kind: str = "logistic"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CalibrationSpec:
        """From the manifest's ``calibration`` object."""
        return cls(
            a=float(data["a"]),
            b=float(data["b"]),
            prior=float(data.get("prior", DEFAULT_PRIOR)),
            kind=str(data.get("kind")),
        )

    def to_dict(self) -> dict[str, Any]:
        """The manifest form (what :meth:`LogisticCalibrator.from_dict` reads)."""
        return {"kind": self.kind, "a": self.a, "b": self.b, "prior": self.prior}


@dataclass(frozen=True)
class FusionMember:
    """One member of a ``fusion`` model: its name, pinned weights sha256 and weight."""

    name: str
    sha256: str
    weight: float


def _fail(path: Path, fields: str, detail: str) -> ManifestError:
    return ManifestError(f"{path}: {fields}: {detail}", path=path, field=fields)


def _section(manifest: Mapping[str, Any], key: str, path: Path) -> dict[str, Any]:
    value = manifest.get(key)
    if not isinstance(value, dict):
        raise _fail(path, repr(key), f"must be a JSON object, got {value!r}")
    return value


@dataclass(frozen=True)
class ModelSpec:
    """Everything a model directory's manifest says about how to run it (validated).

    Build with :meth:`from_manifest`; see the module docstring for the fields.
    """

    path: Path
    name: str
    version: str
    format: str
    description: str
    model_rate: int
    feature: FeatureConfig
    window: WindowConfig
    vad: VadConfig
    limits: LimitsConfig
    calibration: CalibrationSpec
    thresholds: TierThresholds | None
    prior: float
    weights: str | None
    files: Mapping[str, str] = field(repr=False)
    members: tuple[FusionMember, ...] = ()
    fusion_bias: float = 0.0

    @property
    def sample_rate(self) -> int:
        """Alias of :attr:`model_rate` (the manifest's key)."""
        return self.model_rate

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any], *, path: str | Path) -> ModelSpec:
        """Parse and cross-check a manifest dict read from ``path``.

        Raises
        ------
        ManifestError
            A field is missing, malformed, or contradicts another field.
        """
        path = Path(path)
        if not isinstance(manifest, Mapping):
            raise _fail(path, "manifest", f"must be a JSON object, got {type(manifest).__name__}")
        fmt = manifest.get("format")
        if fmt not in SUPPORTED_FORMATS:
            raise _fail(path, "'format'", f"{fmt!r} is not one of {SUPPORTED_FORMATS}")
        files = manifest.get("files")
        if not isinstance(files, dict) or not files:
            raise _fail(path, "'files'", "must map file names to sha256")

        try:
            model_rate = manifest["sample_rate"]
        except KeyError:
            raise _fail(path, "'sample_rate'", "missing (the rate the model runs at)") from None
        if isinstance(model_rate, bool) or not isinstance(model_rate, int) or model_rate < 1000:
            raise _fail(path, "'sample_rate'", f"must be an integer rate in Hz, got {model_rate!r}")

        parsed: dict[str, Any] = {}
        for key, kind, required in (
            ("feature", FeatureConfig, True),
            ("window", WindowConfig, True),
            ("vad", VadConfig, False),
            ("limits", LimitsConfig, False),
        ):
            if key not in manifest and not required:
                parsed[key] = kind()
                continue
            try:
                parsed[key] = kind.from_dict(_section(manifest, key, path))
            except ManifestError:
                raise
            except (AudioDetectError, KeyError, TypeError, ValueError) as exc:
                raise _fail(path, repr(key), f"invalid {key} config: {exc}") from exc
        feature: FeatureConfig = parsed["feature"]

        # One rate: the features, the windows and the VAD all run at model_rate.
        if feature.sr != model_rate:
            raise _fail(
                path,
                "'feature.sr' vs 'sample_rate'",
                f"feature.sr is {feature.sr} Hz but sample_rate is {model_rate} Hz; the "
                "model would see audio at one rate and compute features as if it were the "
                "other. The two must agree.",
            )
        if feature.fmax is not None and feature.fmax > model_rate / 2:
            raise _fail(
                path,
                "'feature.fmax' vs 'sample_rate'",
                f"feature.fmax is {feature.fmax} Hz, above the Nyquist frequency "
                f"{model_rate / 2:g} Hz of sample_rate {model_rate} Hz",
            )

        cal_doc = manifest.get("calibration") or CalibrationSpec().to_dict()
        if not isinstance(cal_doc, dict):
            raise _fail(path, "'calibration'", f"must be a JSON object, got {cal_doc!r}")
        try:
            calibration = CalibrationSpec.from_dict(cal_doc)
        except (KeyError, TypeError, ValueError) as exc:
            raise _fail(path, "'calibration'", f"invalid calibration: {exc!r}") from exc
        if calibration.kind != "logistic":
            raise _fail(path, "'calibration.kind'", f"{calibration.kind!r} is not 'logistic'")

        thresholds = None
        if "thresholds" in manifest:
            try:
                thresholds = TierThresholds.from_dict(_section(manifest, "thresholds", path))
            except ManifestError:
                raise
            except (AudioDetectError, KeyError, TypeError, ValueError) as exc:
                raise _fail(path, "'thresholds'", f"invalid tier thresholds: {exc}") from exc

        try:
            prior = float(manifest.get("prior", DEFAULT_PRIOR))
        except (TypeError, ValueError):
            raise _fail(path, "'prior'", f"must be a number, got {manifest['prior']!r}") from None
        if not 0.0 < prior < 1.0:
            raise _fail(path, "'prior'", f"must be strictly between 0 and 1, got {prior}")

        weights: str | None = None
        members: tuple[FusionMember, ...] = ()
        bias = 0.0
        if fmt == "fusion":
            raw = manifest.get("members")
            if not isinstance(raw, list) or not raw:
                raise _fail(path, "'members'", "a fusion manifest has no 'members'")
            try:
                members = tuple(
                    FusionMember(str(e["name"]), str(e["sha256"]), float(e["weight"])) for e in raw
                )
                bias = float(manifest.get("fusion_bias", 0.0))
            except (KeyError, TypeError, ValueError) as exc:
                raise _fail(path, "'members'", f"each needs name, sha256, weight: {exc!r}") from exc
        else:
            weights = str(manifest.get("weights", DEFAULT_WEIGHTS[fmt]))
            if weights not in files:
                raise _fail(
                    path, "'weights' vs 'files'", f"weights file {weights!r} is not in 'files'"
                )

        return cls(
            path=path,
            name=str(manifest.get("name", path.parent.name)),
            version=str(manifest.get("version", "0")),
            format=str(fmt),
            description=str(manifest.get("description", "")),
            model_rate=int(model_rate),
            feature=feature,
            window=parsed["window"],
            vad=parsed["vad"],
            limits=parsed["limits"],
            calibration=calibration,
            thresholds=thresholds,
            prior=prior,
            weights=weights,
            files=MappingProxyType({str(k): str(v) for k, v in files.items()}),
            members=members,
            fusion_bias=bias,
        )
