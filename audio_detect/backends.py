"""Window scorers: a verified model directory's weights as a function of windows.

A backend maps a batch of equal-length windows at the model rate to raw scores
(higher = spoof). :func:`build_backend` picks one by the manifest's ``format``:

* ``gmm``: numpy/librosa features + the two-class GMM (safetensors);
* ``onnx``: an ONNX graph with the feature front end inside (waveform in, score out);
* ``fusion``: the members' raw window scores, linearly combined (see
  :mod:`audio_detect.evaluation.fusion` for how the weights are fitted).

This module sits below :mod:`audio_detect.detector` (which aggregates and calibrates
window scores into decisions) and imports nothing above the registry.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

import numpy as np

from .config import FeatureConfig
from .exceptions import IncompatibleModelError, ModelIntegrityError
from .registry import ModelDir, load_model_dir
from .spec import FusionMember

__all__ = [
    "Backend",
    "FusionBackend",
    "GMMBackend",
    "OnnxBackend",
    "build_backend",
    "cpu_flags",
    "member_weights_file",
    "warn_signed_int8",
]

logger = logging.getLogger(__name__)

# Windows per onnxruntime call. Larger batches are not faster on CPU (the Whisper
# model: 8.7 ms per window in batches of 1 or 8) but onnxruntime's arena keeps the peak
# activations of the largest call, about 12 MB per 4 s window, for the life of the
# process: 32 windows per call cost the service 300 MB of RSS.
_ONNX_BATCH = 4


class Backend(Protocol):
    """Maps a batch of equal-length windows to raw scores (higher = spoof)."""

    def score_windows(self, windows: np.ndarray) -> np.ndarray:  # pragma: no cover - protocol
        """Score ``(n_windows, n_samples)`` float32 windows."""
        ...


class GMMBackend:
    """Classic backend: numpy/librosa features + the two-class GMM."""

    def __init__(self, model: ModelDir) -> None:
        # Imported here: scikit-learn (and with it pandas/pyarrow) and librosa add about
        # 110 MB to a process that serves an ONNX model and never needs them.
        from .classifiers.gmm import GMMClassifier
        from .features import compute_features

        self._compute = compute_features
        self.feature: FeatureConfig = model.feature
        self.clf = GMMClassifier.load(model.file(model.spec.weights or ""))

    def score_windows(self, windows: np.ndarray) -> np.ndarray:
        """Mean frame LLR of each window."""
        feats = [self._compute(w, config=self.feature) for w in windows]
        return self.clf.decision_function(feats)


class OnnxBackend:
    """Neural backend: an ONNX graph with the feature front end inside (waveform in, score out)."""

    def __init__(self, model: ModelDir, *, intra_op_threads: int | None = None) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if intra_op_threads:
            opts.intra_op_num_threads = intra_op_threads
            # Servers run one single-threaded session call per scoring thread; idle
            # onnxruntime workers would otherwise spin and steal those threads' cores.
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        path = model.file(model.spec.weights or "")
        try:
            self.session = ort.InferenceSession(
                str(path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise IncompatibleModelError(f"onnxruntime cannot load {path}: {exc}") from exc
        self.input_name = self.session.get_inputs()[0].name
        warn_signed_int8(model)

    def score_windows(self, windows: np.ndarray) -> np.ndarray:
        """Run the graph on batches of windows."""
        out = []
        for i in range(0, len(windows), _ONNX_BATCH):
            batch = np.ascontiguousarray(windows[i : i + _ONNX_BATCH], dtype=np.float32)
            (scores,) = self.session.run(None, {self.input_name: batch})
            out.append(np.asarray(scores, dtype=np.float64).reshape(-1))
        return np.concatenate(out) if out else np.zeros(0)


def cpu_flags() -> frozenset[str]:
    """The instruction-set flags of this CPU (``/proc/cpuinfo``; empty where unreadable)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def warn_signed_int8(model: ModelDir, flags: frozenset[str] | None = None) -> bool:
    """Log a warning when an int8 model stores signed weights and this CPU lacks VNNI.

    onnxruntime's uint8 x int8 kernel saturates on x86 CPUs without VNNI, so such a
    model scores differently there (whisper-cm-8k 2.1.0: up to 3.1 logits); models
    quantized since 2.1.1 store their weights as uint8 (``weight_storage``) and are
    exact everywhere, and so are models with 7-bit weights (``weight_bits``), whose pair
    sums cannot saturate. Returns whether it warned.
    """
    q = model.manifest.get("training", {}).get("quantization") or {}
    if q.get("kind") != "dynamic_int8" or q.get("weight_storage") == "uint8":
        return False
    if q.get("weight_bits") == 7:
        return False
    flags = cpu_flags() if flags is None else flags
    if not flags or "avx2" not in flags or flags & {"avx512_vnni", "avx_vnni"}:
        return False  # not x86, or the VNNI kernel (exact) runs
    logger.warning(
        "%s %s stores signed int8 weights and this CPU has no VNNI: onnxruntime's "
        "int8 kernel saturates here and scores differ from the model card's; rewrite it "
        "with scripts/unsign_int8_model.py (same integers, exact on every CPU)",
        model.name,
        model.manifest.get("version", ""),
    )
    return True


def build_backend(model: ModelDir, *, intra_op_threads: int | None = None) -> Backend:
    """The window scorer of a verified model directory, by its ``format``.

    ``intra_op_threads`` caps the threads of each onnxruntime call (``None``: its
    default, one per core); numpy backends ignore it.
    """
    if model.format == "gmm":
        return GMMBackend(model)
    if model.format == "onnx":
        return OnnxBackend(model, intra_op_threads=intra_op_threads)
    if model.format == "fusion":
        return FusionBackend(model, intra_op_threads=intra_op_threads)
    # The registry already rejects other formats; kept for direct construction.
    raise IncompatibleModelError(f"Unsupported model format {model.format!r}")


def member_weights_file(model: ModelDir) -> str:
    """Name of the file holding a member's weights (what a fusion pins)."""
    if model.format == "fusion":
        raise IncompatibleModelError(f"{model.name}: a fusion cannot be a fusion member")
    assert model.spec.weights is not None  # set for every non-fusion format
    return model.spec.weights


def _load_member(entry: FusionMember, root: Path) -> ModelDir:
    member = load_model_dir(entry.name, root=root)
    fname = member_weights_file(member)
    actual = member.spec.files.get(fname)
    if actual != entry.sha256:
        raise ModelIntegrityError(
            f"fusion member {entry.name!r}: weights {fname} have sha256 {actual}, the "
            f"fusion was fitted on {entry.sha256}; refit the fusion for the new member."
        )
    return member


class FusionBackend:
    """Backend of a ``fusion`` model: members' raw window scores, linearly combined."""

    def __init__(self, model: ModelDir, *, intra_op_threads: int | None = None) -> None:
        spec = model.spec
        if not spec.members:
            raise IncompatibleModelError(f"{model.path}: fusion manifest has no 'members'")
        self.weights = np.asarray([e.weight for e in spec.members], dtype=np.float64)
        self.bias = spec.fusion_bias
        self.members: list[Backend] = []
        for entry in spec.members:
            member = _load_member(entry, model.path.parent)
            if member.sample_rate != model.sample_rate:
                raise IncompatibleModelError(
                    f"fusion member {member.name!r} runs at {member.sample_rate} Hz, "
                    f"the fusion at {model.sample_rate} Hz"
                )
            self.members.append(build_backend(member, intra_op_threads=intra_op_threads))

    def member_scores(self, windows: np.ndarray) -> np.ndarray:
        """Raw scores ``(n_windows, n_members)``."""
        return np.stack([b.score_windows(windows) for b in self.members], axis=1)

    def score_windows(self, windows: np.ndarray) -> np.ndarray:
        """Fused raw score of each window."""
        return self.member_scores(windows) @ self.weights + self.bias
