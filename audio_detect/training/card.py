"""Markdown model card of a trained neural countermeasure (Mitchell et al., FAT* 2019)."""

from __future__ import annotations

from typing import Any

from ..evaluation.model_card import render_measured
from ..features.pretrained import ENCODER_ORIGINS
from .config import TrainConfig

__all__ = ["architecture_text", "model_card"]

_ARCH_TEXT = {
    "lcnn": (
        "Light CNN with Max-Feature-Map activations on {kind} features computed inside the "
        "graph (Lavrentyeva et al., Interspeech 2019; Wang & Yamagishi, Interspeech 2021), "
        "with attentive statistics pooling instead of the BLSTM."
    ),
    "whisper_cm": (
        "Frozen layers of a pretrained Whisper encoder (Radford et al., 2022): {encoder}, "
        "MIT-licensed, embedded in `model.onnx`, licence in `NOTICE`; with a trained head: "
        "per-window RMS normalisation, Whisper log-mel inside the graph (at 8 kHz: the 16 kHz"
        " analysis of telephone-band audio), the convolutional stem and first Transformer "
        "block(s), then the head named by `pooling` in `train_config.json`: `conv_asp` (two "
        "1-D convolutions and attentive statistics pooling) or `mean_std` (mean and standard "
        "deviation over time and an MLP). Whisper features generalise to unseen generators "
        "(Kawa et al., Interspeech 2023)."
    ),
    "aasist_l": (
        "AASIST-L spectro-temporal graph attention network on the raw waveform (Jung et al., "
        "ICASSP 2022): fixed sinc filter bank, residual encoder, spectral and temporal graph "
        "attention, heterogeneous stacking graph attention with a master node."
    ),
}


def _pct(v: Any) -> str:
    return f"{100 * v:.2f} %" if isinstance(v, int | float) else "n/a"


def _metrics_table(metrics: dict[str, Any]) -> list[str]:
    lines = [
        "| split / condition | trials (bona fide / spoof) | EER | minDCF | actDCF | Cllr |",
        "|---|---|---|---|---|---|",
    ]
    for key, m in metrics.items():
        if "eer" not in m:
            continue
        lines.append(
            f"| {key} | {m['n_bonafide']} / {m['n_spoof']} | {_pct(m['eer'])} | "
            f"{m['min_dcf']:.3f} | {m.get('act_dcf', float('nan')):.3f} | "
            f"{m.get('cllr', float('nan')):.3f} |"
        )
    return lines


def _quantization_lines(training: dict[str, Any]) -> list[str]:
    q = training.get("quantization")
    if not q:
        return ["- Weights: float32."]
    storage = (
        "; stored as uint8 with zero point 128, which every x86 kernel multiplies exactly"
        if q.get("weight_storage") == "uint8"
        else "; 7-bit weight grid, so even AVX2's saturating kernel multiplies exactly"
        if q.get("weight_bits") == 7
        else ""
    )
    return [
        f"- Weights: int8 ({q['kind']}, {q['n_quantized']} of {q['n_matmul']} matrix "
        "products, per-channel weight scales; the STFT and mel filter bank stay float32"
        f"{storage}). Largest score change against the float32 graph on dev speech: "
        f"{q.get('max_abs_score_diff_vs_float32', float('nan')):.3f}. Calibration and every "
        "metric below are of the int8 graph."
    ]


def _run_lines(config: TrainConfig, training: dict[str, Any]) -> list[str]:
    members = training.get("ensemble")
    if not members:
        return [
            f"- Seed {training.get('seed')}, {training.get('steps')} steps in "
            f"{training.get('epochs')} epochs ({training.get('stopped_by')}), best dev epoch "
            f"{training.get('best_epoch')}, {training.get('train_wall_seconds')} s of training "
            f"on {config.num_threads} CPU threads."
        ]
    lines = [
        f"- Ensemble of {len(members)} runs of this recipe (different seeds): one shared "
        "frozen encoder, the raw score is the mean of the runs' heads.",
    ]
    for m in members:
        lines.append(
            f"  - seed {m.get('seed', 'n/a')}: {m.get('steps', 'n/a')} steps, best dev epoch "
            f"{m.get('best_epoch', 'n/a')}, {m.get('train_wall_seconds', 'n/a')} s of "
            f"training (`{m['checkpoint']}`)."
        )
    return lines


def architecture_text(config: TrainConfig) -> str:
    """Return the card's description of ``config``'s architecture (and embedded weights)."""
    encoder = config.model.params.get("encoder", "whisper-tiny.en")
    return _ARCH_TEXT.get(config.model.arch, config.model.arch).format(
        kind=config.feature.kind, encoder=ENCODER_ORIGINS.get(encoder, encoder)
    )


def _sam_text(config: TrainConfig) -> str:
    if config.sam_rho <= 0:
        return ""
    kind = "ASAM" if config.sam_adaptive else "SAM"
    return f" with sharpness-aware steps ({kind}, rho {config.sam_rho:g})"


def model_card(
    config: TrainConfig,
    *,
    training: dict[str, Any],
    metrics: dict[str, Any],
    thresholds: dict[str, Any],
) -> str:
    """Return the ``MODEL_CARD.md`` text for a run."""
    arch = architecture_text(config)
    splits = training.get("splits", {})
    lines = [
        f"# {config.name} {config.version}",
        "",
        config.description,
        "",
        "## Model",
        "",
        f"- Architecture: {arch}",
        f"- Parameters: {training.get('n_parameters')}; loss: {config.loss}"
        f"{_sam_text(config)}; sample rate: {config.sample_rate} Hz.",
        "- Input: mono float32 waveform at the model rate, any length (windows of "
        f"{config.window.window_seconds} s of VAD speech in serving); output: raw score, "
        "higher = spoof. Calibrated to a natural-log LLR by the affine map in `manifest.json`.",
        f"- Serving windows: {config.window.window_seconds} s every "
        f"{config.window.hop_seconds} s of speech, call score = mean of the top "
        f"{config.window.top_k}.",
        *_quantization_lines(training),
        "",
        "## Training",
        "",
        f"- Manifest: `{training.get('manifest')}` ({training.get('protocol')}).",
    ]
    for name, s in splits.items():
        systems = s["systems"]
        shown = ", ".join(systems[:15])
        if len(systems) > 15:
            shown += f", ... ({len(systems)} in all)"
        lines.append(
            f"- {name}: {s['n_bonafide']} bona fide + {s['n_spoof']} spoof utterances, "
            f"{s['speech_hours']} h of speech; spoof systems: {shown or '-'}."
        )
    lines += [
        *_run_lines(config, training),
        "- Augmentation (both classes alike): RawBoost (Tak et al., ICASSP 2022), telephone "
        f"channels {config.augment.channel_conditions}, band limiting, gain, speed"
        f"{', random equaliser' if config.augment.p_eq > 0 else ''}.",
        "",
        "## Calibration and tiers",
        "",
        "Logistic calibration fitted on the dev split's call-level scores (serving windows, "
        f"top-{config.window.top_k} mean). Tier thresholds (LLR): medium "
        f"{thresholds.get('medium'):.3f}, high {thresholds.get('high'):.3f}, set for "
        f"{thresholds.get('target_false_alarm')} false alarms on dev bona fide speech.",
        "",
        "## Metrics of the training run",
        "",
        "Measured by `audio-detect train` right after training (eval split, clean and under "
        "the listed channels, channel rows on a seeded subset):",
        "",
        *_metrics_table(metrics),
        "",
        render_measured({"name": config.name}),
    ]
    return "\n".join(lines)
