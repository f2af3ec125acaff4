"""Training configuration: one frozen dataclass tree, loaded from and saved to JSON.

A training run is fully described by a :class:`TrainConfig` (plus the manifest it
reads), so ``configs/*.json`` are the single source of every hyper-parameter. The
config is copied verbatim into the exported model directory as ``train_config.json``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from ..config import FeatureConfig, WindowConfig
from ..config import from_dict as dataclass_from_dict
from ..constants import DEFAULT_MODEL_RATE, MODEL_RATES, rates_text
from ..exceptions import ParameterError

__all__ = ["AugmentConfig", "ModelConfig", "TrainConfig", "load_train_config"]

ARCHS = ("lcnn", "aasist_l", "whisper_cm")
LOSSES = ("ce", "ocsoftmax")
SCHEDULERS = ("cosine", "step", "constant")
BALANCE = ("none", "label", "label_group", "label_family")
QUANTIZE = ("none", "int8", "int7")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture name and its constructor keyword arguments.

    Parameters
    ----------
    arch : str
        ``lcnn`` (:class:`~audio_detect.classifiers.lcnn.LCNN`), ``aasist_l``
        (:class:`~audio_detect.classifiers.aasist_l.AASISTL`) or ``whisper_cm``
        (:class:`~audio_detect.classifiers.whisper_cm.WhisperCM`, frozen pretrained
        Whisper layers and a trained head).
    params : dict
        Extra keyword arguments of the model class (widths, dropout...).
    """

    arch: str = "lcnn"
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ParameterError.invalid("model.arch", f"one of {ARCHS}", self.arch)


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and ranges of the on-the-fly augmentations (see ``augment.py``).

    Every augmentation is applied to both classes with the same probability, so
    no augmentation artefact can become a class cue.

    Parameters
    ----------
    p_rawboost : float
        Probability of one RawBoost stage (Tak et al., ICASSP 2022).
    rawboost_algos : list of int
        RawBoost algorithms to draw from: 1 linear convolutive (random FIR
        band filters), 2 impulsive signal-dependent, 3 coloured stationary noise.
    p_channel : float
        Probability of a telephone/VoIP channel condition from ``channel_conditions``.
    channel_conditions : list of str
        Names for :func:`audio_detect.audio.channel.apply_channel`; unavailable ones
        are skipped with a warning.
    p_bandlimit : float
        Probability of a random low-pass (cut-off drawn in ``bandlimit_hz``).
    bandlimit_hz : list of float
        Range of the low-pass cut-off in Hz.
    p_gain : float
        Probability of a random gain drawn in ``gain_db``.
    gain_db : list of float
        Gain range in dB (peak clipped to 1).
    p_speed : float
        Probability of resampling-based speed perturbation (label preserving).
    speed_range : list of float
        Speed factor range.
    p_eq : float
        Probability of a random equaliser (low shelf, high shelf and two peaking
        bands: the colouration of a microphone, a room or a studio's mastering),
        applied before the channel.
    eq_db : float
        Largest boost or cut of any equaliser band, in dB.
    """

    p_rawboost: float = 0.5
    rawboost_algos: list[int] = field(default_factory=lambda: [1, 2, 3])
    p_channel: float = 0.3
    channel_conditions: list[str] = field(
        default_factory=lambda: ["tel_mulaw", "tel_alaw", "tel_gsm", "voip_opus_nb", "mp3"]
    )
    p_bandlimit: float = 0.2
    bandlimit_hz: list[float] = field(default_factory=lambda: [3400.0, 7600.0])
    p_gain: float = 0.5
    gain_db: list[float] = field(default_factory=lambda: [-20.0, 6.0])
    p_speed: float = 0.2
    speed_range: list[float] = field(default_factory=lambda: [0.9, 1.1])
    p_eq: float = 0.0
    eq_db: float = 12.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.eq_db <= 24.0:
            raise ParameterError.invalid("augment.eq_db", "a gain in [0, 24] dB", self.eq_db)
        for name in ("p_rawboost", "p_channel", "p_bandlimit", "p_gain", "p_speed", "p_eq"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ParameterError.invalid(f"augment.{name}", "a probability in [0, 1]", value)
        bad = [a for a in self.rawboost_algos if a not in (1, 2, 3)]
        if bad:
            raise ParameterError.invalid("augment.rawboost_algos", "values in {1, 2, 3}", bad)


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs besides the data.

    Parameters
    ----------
    name, description : str
        Model directory name and one-line description (copied to ``manifest.json``).
    sample_rate : int
        Rate the model runs at; all audio is resampled to it when loaded.
    model : ModelConfig
        Architecture.
    feature : FeatureConfig
        Spectral front end (ignored by raw-waveform models, but still recorded).
    window : WindowConfig
        Serving window rule, also used to score the dev split for calibration.
    manifest : str or None
        Default manifest CSV (overridable on the command line).
    train_split, dev_split, eval_split : str
        Values of the manifest ``split`` column; ``eval_split`` may be absent.
    crop_seconds : float
        Training window length (random crop in train, deterministic in dev).
    batch_size, epochs, max_steps : int
        Batch size, maximum epochs and maximum optimiser steps (0 = no step cap).
    max_minutes : float
        Wall-clock budget of the training loop (0 = none).
    lr, weight_decay, warmup_steps, scheduler :
        AdamW learning rate and decoupled weight decay; linear warm-up then
        ``cosine`` decay, a ``step`` decay (x0.5 every quarter) or ``constant``.
    encoder_lr : float or None
        Learning rate of a pretrained encoder's parameters (the model's ``encoder``
        module) when they are trained (``whisper_cm`` with ``train_blocks``); ``None``
        = ``lr``. Fine-tuning pretrained layers wants a rate far below the head's.
    loss : str
        ``ce`` (class-weighted cross-entropy) or ``ocsoftmax`` (Zhang et al., 2021).
    balance : str
        Sampling: ``none``, ``label`` (equal classes), ``label_group`` (equal
        classes, and within a class equal ``sqrt`` weight per system/source group) or
        ``label_family`` (as ``label_group``, but spoof families share equally first).
    pair_copies : float
        Probability that a drawn copy (a spoof made from a bona fide training item:
        vocoder or codec resynthesis, copy-synthesis, conversion; manifest ``parent``)
        comes with its source, cropped and augmented identically
        (:class:`audio_detect.training.data.PairedSampler`); 0 = independent draws.
    sam_rho : float
        Sharpness-aware minimisation: radius of the neighbourhood whose worst point
        gives each step's gradient (:mod:`audio_detect.training.sam`); 0 = plain steps.
    sam_adaptive : bool
        ASAM's weight-scaled neighbourhood (Kwon et al., 2021) instead of SAM's sphere.
    average_epochs : int
        Stochastic weight averaging (:mod:`audio_detect.training.swa`): the model kept is
        the mean of the weights at the end of the last ``average_epochs`` epochs, not the
        epoch chosen on dev (0 = off: the epoch with the lowest dev EER).
    epoch_size : int
        Draws per epoch (0 = the training set size).
    augment : AugmentConfig
        On-the-fly augmentation.
    seed : int
        Seed of torch, numpy and random.
    num_threads : int
        ``torch.set_num_threads``.
    num_workers : int
        Data-loading worker processes (decoding is cached; workers run the
        augmentation, overlapping it with the optimiser step). 0 = main process.
    dev_max_utts : int
        Cap on dev utterances scored per epoch (0 = all).
    target_false_alarm : dict
        Bona fide false-alarm rates for the ``medium`` and ``high`` tiers.
    eval_channels : list of str
        Channel conditions under which the eval split is also scored (robustness).
    eval_channel_max_utts : int
        Score at most this many eval utterances (a seeded, label-stratified subset)
        under each channel condition (0 = all); channel simulation is slow on CPU.
    split_eval_fraction, split_dev_fraction : float
        Used only when the manifest has no ``split`` column: speaker- and
        system-disjoint split by :func:`audio_detect.training.classic.group_split`.
    cache_dir : str or None
        Directory for decoded-audio ``.npy`` caches (None: RAM only).
    quantize : str
        Weights of the exported graph: ``none`` (float32), ``int8`` (dynamic int8
        ``MatMul`` weights stored as uint8, :func:`audio_detect.training.quantize.quantize_int8`)
        or ``int7`` (the same with signed 7-bit weights: the fast kernel, exact on AVX2).
        Calibration and evaluation always score the graph that ships.
    """

    name: str = "lcnn_lfcc"
    description: str = "LFCC-LCNN spoofing countermeasure"
    version: str = "1.0.0"
    sample_rate: int = DEFAULT_MODEL_RATE
    model: ModelConfig = field(default_factory=ModelConfig)
    feature: FeatureConfig = field(default_factory=FeatureConfig)
    window: WindowConfig = field(default_factory=WindowConfig)
    manifest: str | None = None
    train_split: str = "train"
    dev_split: str = "dev"
    eval_split: str = "eval"
    crop_seconds: float = 4.0
    batch_size: int = 32
    epochs: int = 30
    max_steps: int = 0
    max_minutes: float = 80.0
    lr: float = 1e-3
    encoder_lr: float | None = None
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    scheduler: str = "cosine"
    loss: str = "ce"
    balance: str = "label_group"
    pair_copies: float = 0.0
    sam_rho: float = 0.0
    sam_adaptive: bool = False
    average_epochs: int = 0
    epoch_size: int = 0
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    seed: int = 0
    num_threads: int = 2
    num_workers: int = 1
    dev_max_utts: int = 0
    target_false_alarm: dict[str, float] = field(
        default_factory=lambda: {"medium": 0.01, "high": 0.001}
    )
    eval_channels: list[str] = field(
        default_factory=lambda: ["tel_mulaw", "tel_gsm", "voip_opus_nb"]
    )
    eval_channel_max_utts: int = 0
    split_eval_fraction: float = 0.3
    split_dev_fraction: float = 0.25
    cache_dir: str | None = None
    quantize: str = "none"

    def __post_init__(self) -> None:
        if self.sample_rate not in MODEL_RATES:
            raise ParameterError.invalid("sample_rate", rates_text(), self.sample_rate)
        if self.feature.sr != self.sample_rate:
            raise ParameterError.invalid(
                "feature.sr", f"equal to sample_rate={self.sample_rate}", self.feature.sr
            )
        if self.loss not in LOSSES:
            raise ParameterError.invalid("loss", f"one of {LOSSES}", self.loss)
        if self.scheduler not in SCHEDULERS:
            raise ParameterError.invalid("scheduler", f"one of {SCHEDULERS}", self.scheduler)
        if self.balance not in BALANCE:
            raise ParameterError.invalid("balance", f"one of {BALANCE}", self.balance)
        if not 0.0 <= self.pair_copies <= 1.0:
            raise ParameterError.invalid("pair_copies", "in [0, 1]", self.pair_copies)
        if not self.sam_rho >= 0:
            raise ParameterError.invalid("sam_rho", ">= 0 (0 = off)", self.sam_rho)
        if not 0 <= self.average_epochs <= self.epochs:
            raise ParameterError.invalid(
                "average_epochs", f"in [0, epochs={self.epochs}]", self.average_epochs
            )
        if self.encoder_lr is not None and not self.encoder_lr > 0:
            raise ParameterError.invalid("encoder_lr", "> 0 (or null)", self.encoder_lr)
        if self.quantize not in QUANTIZE:
            raise ParameterError.invalid("quantize", f"one of {QUANTIZE}", self.quantize)
        if not self.crop_seconds > 0:
            raise ParameterError.invalid("crop_seconds", "> 0", self.crop_seconds)
        if self.batch_size < 1:
            raise ParameterError.invalid("batch_size", ">= 1", self.batch_size)

    # -- serialisation -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready nested dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Build from a nested dict; unknown keys raise :class:`ParameterError`."""
        data = dict(data)
        data.pop("$comment", None)
        nested = {
            "model": ModelConfig,
            "feature": FeatureConfig,
            "window": WindowConfig,
            "augment": AugmentConfig,
        }
        for key, sub in nested.items():
            if key in data and isinstance(data[key], dict):
                data[key] = dataclass_from_dict(sub, data[key])
        return dataclass_from_dict(cls, data)

    def replace(self, **changes: Any) -> TrainConfig:
        """Return a copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_json(self, path: str | Path) -> None:
        """Write the config as indented JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n")


def load_train_config(path: str | Path) -> TrainConfig:
    """Read a :class:`TrainConfig` from a JSON file.

    Raises
    ------
    ParameterError
        The file is not valid JSON or holds unknown keys or invalid values.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ParameterError(f"Cannot read training config {str(path)!r}: {exc}") from exc
    if not isinstance(data, dict):
        raise ParameterError.invalid("config", "a JSON object", type(data).__name__)
    return TrainConfig.from_dict(data)
