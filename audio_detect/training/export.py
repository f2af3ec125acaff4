"""Export a trained countermeasure to ONNX and write a self-describing model directory.

The ONNX graph holds the feature front end (raw waveform in, score out), is exported
with torch's dynamo exporter (``torch.onnx.export(..., dynamo=True)``) with dynamic
batch and length axes, and serving needs only onnxruntime and numpy.

Model directory layout (read by :func:`audio_detect.registry.load_model_dir`)::

    models/<name>/
        model.onnx          input "waveform" float32 [batch, n_samples], output "score" [batch]
        train_config.json   the TrainConfig of the run
        MODEL_CARD.md       what it is, data, protocol, metrics, limits
        NOTICE              licence of embedded third-party weights (when there are any)
        manifest.json       feature/window config, calibration, thresholds, sha256 of each file
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import platform
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..registry import write_manifest

__all__ = [
    "INPUT_NAME",
    "OUTPUT_NAME",
    "check_onnx_parity",
    "export_onnx",
    "versions",
    "write_model_dir",
]

logger = logging.getLogger(__name__)

INPUT_NAME = "waveform"
OUTPUT_NAME = "score"
MODEL_FILE = "model.onnx"
CONFIG_FILE = "train_config.json"
CARD_FILE = "MODEL_CARD.md"
NOTICE_FILE = "NOTICE"


class _Scorer(nn.Module):
    """Wrapper fixing the graph's input/output contract (float32 waveform -> float32 score)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.model(waveform).reshape(-1)


def export_onnx(
    model: nn.Module, path: str | Path, *, sample_rate: int, example_seconds: float = 4.0
) -> Path:
    """Export ``model`` (waveform ``(B, N)`` -> score ``(B,)``) to an ONNX file.

    Parameters
    ----------
    model : nn.Module
        The trained countermeasure, front end included; put in eval mode here.
    path : path-like
        Output ``.onnx`` file (a single file, weights embedded).
    sample_rate : int
        Model rate; sets the example input length.
    example_seconds : float
        Length of the example used for tracing (any length works afterwards).

    Returns
    -------
    Path
        The written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wrapper = _Scorer(model).eval()
    n = round(example_seconds * sample_rate)
    example = torch.zeros(2, n, dtype=torch.float32)
    example[:, :: max(1, sample_rate // 100)] = 0.1  # non-trivial, deterministic input
    # Dim.DYNAMIC (not a named Dim with a range): pooling layers make torch.export emit
    # divisibility guards on the length, which a named range would reject; the graph
    # itself is valid for every length (tested at lengths of every residue).
    dynamic = torch.export.Dim.DYNAMIC
    with torch.no_grad():
        program = torch.onnx.export(
            wrapper,
            (example,),
            dynamo=True,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_shapes={"waveform": {0: dynamic, 1: dynamic}},
            external_data=False,
            optimize=True,
            verbose=False,
        )
    program.save(str(path), external_data=False)
    logger.info("exported %s (%.1f kB)", path, path.stat().st_size / 1024)
    return path


def onnx_session(path: str | Path, *, threads: int = 2) -> Any:
    """Open an onnxruntime CPU session."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def check_onnx_parity(
    model: nn.Module, path: str | Path, waveforms: np.ndarray, *, atol: float = 1e-4
) -> float:
    """Return ``max |torch - onnxruntime|`` on ``waveforms`` ``(B, N)``; raise if above ``atol``."""
    x = np.ascontiguousarray(waveforms, dtype=np.float32)
    model.eval()
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).reshape(-1).numpy()
    (got,) = onnx_session(path).run([OUTPUT_NAME], {INPUT_NAME: x})
    diff = float(np.max(np.abs(ref - np.asarray(got).reshape(-1))))
    if not diff <= atol:
        raise AssertionError(f"ONNX parity failed: max |diff| = {diff:.3g} > {atol}")
    return diff


def versions() -> dict[str, str]:
    """Versions of the packages that produced the model."""
    out = {"python": platform.python_version()}
    for pkg in ("audio-detect", "torch", "torchaudio", "onnx", "onnxscript", "onnxruntime"):
        try:
            out[pkg.replace("-", "_")] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg.replace("-", "_")] = "unknown"
    return out


def write_model_dir(
    out_dir: str | Path,
    *,
    model: nn.Module,
    config: Any,
    calibration: dict[str, Any],
    thresholds: dict[str, Any],
    training: dict[str, Any],
    metrics: dict[str, Any],
    card: str,
    onnx_path: str | Path | None = None,
) -> Path:
    """Write (or rewrite) a complete model directory and return its manifest path.

    Parameters
    ----------
    out_dir : path-like
        Target directory (created).
    model : nn.Module
        Trained model; exported unless ``onnx_path`` points at an existing export
        (it is then copied if it lives elsewhere).
    config : TrainConfig
        Run configuration: name, version, description, rate, feature, window.
    calibration : dict
        ``LogisticCalibrator.to_dict()`` (``kind``, ``a``, ``b``, ``prior``).
    thresholds : dict
        ``{"medium": llr, "high": llr, "target_false_alarm": {...}}``.
    training, metrics : dict
        Summaries stored in the manifest.
    card : str
        Markdown model card.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / MODEL_FILE
    if onnx_path is None:
        export_onnx(model, target, sample_rate=config.sample_rate)
    elif Path(onnx_path).resolve() != target.resolve():
        target.write_bytes(Path(onnx_path).read_bytes())
    (out / CONFIG_FILE).write_text(json.dumps(config.to_dict(), indent=2) + "\n", encoding="utf-8")
    (out / CARD_FILE).write_text(card, encoding="utf-8")
    files = {MODEL_FILE: "", CARD_FILE: "", CONFIG_FILE: ""}
    notice = getattr(model, "notice", None)  # licence of embedded third-party weights
    if notice:
        (out / NOTICE_FILE).write_text(notice, encoding="utf-8")
        files[NOTICE_FILE] = ""
    manifest = {
        "name": config.name,
        "version": config.version,
        "format": "onnx",
        "description": config.description,
        "sample_rate": config.sample_rate,
        "feature": config.feature.to_dict(),
        "window": config.window.to_dict(),
        "calibration": calibration,
        "thresholds": thresholds,
        "files": files,
        "versions": versions(),
        "training": training,
        "metrics": metrics,
    }
    return write_manifest(out, _jsonable(manifest))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj
