"""Model cards whose numbers come from ``audio-detect evaluate``.

``audio-detect evaluate --manifest EVAL.csv --model DIR --update-card`` scores the
protocol, then :func:`update_model_card` writes the measured metrics into the model's
``manifest.json`` (``metrics``) and renders ``MODEL_CARD.md`` from the manifest, so a
card can only show numbers that a rerun of that command reproduces. Several
evaluations (clean, each telephone channel) are kept side by side under their
condition name. With ``det`` (see :func:`det_points`), a down-sampled DET curve of
the condition is stored next to its numbers (``evaluations[condition]["det"]``), for
plots such as the analyst console's models page; manifests without it stay valid.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..registry import read_manifest, write_manifest

__all__ = [
    "DEFAULT_PROTOCOL",
    "condition_key",
    "det_points",
    "refresh_model_card",
    "render_measured",
    "render_model_card",
    "split_condition",
    "update_model_card",
]

CARD_NAME = "MODEL_CARD.md"

#: Heading from which ``update_model_card`` rewrites a card; text above it is kept.
MEASURED_HEADING = "## Measured performance"

#: Points kept of a DET curve stored in a manifest.
DET_POINTS = 100

#: Protocol of conditions stored without a protocol prefix (the corpus's eval split).
DEFAULT_PROTOCOL = "eval"


def condition_key(protocol: str | None, channel: str | None) -> str:
    """The manifest key of an evaluation: ``clean``/``<channel>`` on the default protocol,
    ``<protocol>:clean``/``<protocol>:<channel>`` on another (``modern:tel_mulaw``)."""
    cond = channel or "clean"
    if protocol is None or protocol == DEFAULT_PROTOCOL:
        return cond
    if not protocol.replace("-", "").replace("_", "").isalnum():
        from ..exceptions import ParameterError

        raise ParameterError.invalid("protocol", "letters, digits, '-' or '_'", protocol)
    return f"{protocol}:{cond}"


def split_condition(key: str) -> tuple[str, str]:
    """``(protocol, channel condition)`` of a manifest evaluation key."""
    protocol, _, cond = key.rpartition(":")
    return (protocol or DEFAULT_PROTOCOL), cond


def _pct(v: float) -> str:
    return f"{100 * v:.2f} %"


def det_points(
    y_true: ArrayLike, y_score: ArrayLike, *, n_points: int = DET_POINTS
) -> dict[str, list[float]]:
    """A DET curve down-sampled to at most ``n_points`` points, JSON-ready.

    Parameters
    ----------
    y_true : array-like of int
        ``1`` for spoof, ``0`` for bona fide.
    y_score : array-like of float
        Scores or LLRs, higher = more spoof.
    n_points : int
        Largest number of points kept (at least 3): evenly spaced along the curve,
        the first, the last and the point nearest the EER always among them.

    Returns
    -------
    dict
        ``p_miss`` (bona fide flagged), ``p_fa`` (spoof accepted) and ``threshold``
        (flag when ``score >= threshold``), equally long lists, thresholds decreasing,
        as :func:`audio_detect.evaluation.metrics.det_curve`.
    """
    from .metrics import det_curve

    p_miss, p_fa, thresholds = det_curve(y_true, y_score)
    n = p_miss.size
    eer_index = int(np.argmin(np.abs(p_miss - p_fa)))
    spaced = np.linspace(0, n - 1, max(2, min(n_points - 1, n))).round().astype(int)
    keep = np.unique(np.append(spaced, eer_index))
    return {
        "p_miss": [round(float(v), 6) for v in p_miss[keep]],
        "p_fa": [round(float(v), 6) for v in p_fa[keep]],
        "threshold": [round(float(v), 6) for v in thresholds[keep]],
    }


def update_model_card(
    model_dir: Path,
    metrics: dict[str, Any],
    *,
    condition: str,
    command: str,
    det: dict[str, list[float]] | None = None,
) -> Path:
    """Store ``metrics`` for ``condition`` in the manifest and re-render the card.

    ``det`` (from :func:`det_points`, or ``metrics["det"]`` when not given) is stored
    as the condition's down-sampled DET curve.
    """
    manifest = read_manifest(model_dir)
    evaluations = manifest.setdefault("metrics", {}).setdefault("evaluations", {})
    evaluations[condition] = {
        "command": command,
        "date": datetime.now(UTC).date().isoformat(),
        "eer": metrics["eer"],
        "min_dcf": metrics["min_dcf"],
        "act_dcf": metrics["act_dcf"],
        "cllr": metrics["cllr"],
        "n_bonafide": metrics["n_bonafide"],
        "n_spoof": metrics["n_spoof"],
        "n_failed": metrics["n_failed"],
        "per_system": {k: round(v["eer"], 6) for k, v in metrics["per_system"].items()},
        "per_group": {
            col: {k: round(v["eer"], 6) for k, v in groups.items()}
            for col, groups in metrics["per_group"].items()
        },
    }
    det = det if det is not None else metrics.get("det")
    if det:
        evaluations[condition]["det"] = {k: list(det[k]) for k in ("p_miss", "p_fa", "threshold")}
    # summary: the default protocol's clean condition, from `evaluate` when it ran, else
    # from the training run's eval split; never another protocol's figures
    clean = evaluations.get("clean") or manifest["metrics"].get("eval")
    if clean is not None:
        manifest["metrics"]["summary"] = _summary(clean)
    else:
        manifest["metrics"].pop("summary", None)
    protocols = {split_condition(k)[0] for k in evaluations} - {DEFAULT_PROTOCOL}
    for proto in sorted(protocols):  # e.g. summary_modern: the protocol's clean condition
        ev = evaluations.get(f"{proto}:clean")
        if ev is not None:
            manifest["metrics"][f"summary_{proto}"] = _summary(ev)
    return refresh_model_card(model_dir, manifest)


def refresh_model_card(model_dir: Path, manifest: dict[str, Any] | None = None) -> Path:
    """Re-render ``MODEL_CARD.md``'s measured sections from the stored evaluations.

    Nothing is scored: the card is rendered from ``manifest`` (by default the model's
    ``manifest.json``) as :func:`update_model_card` renders it, e.g. after the renderer
    gained a column, and the card's new sha256 is written to the manifest. Text above
    the measured heading is kept.
    """
    manifest = read_manifest(model_dir) if manifest is None else manifest
    card_path = model_dir / CARD_NAME
    existing = card_path.read_text(encoding="utf-8") if card_path.is_file() else ""
    if MEASURED_HEADING in existing:  # keep the trainer's description, data and calibration
        card = existing.split(MEASURED_HEADING, 1)[0] + render_measured(manifest)
    else:
        card = render_model_card(manifest)
    card_path.write_text(card, encoding="utf-8")
    files = manifest.get("files", {})
    manifest["files"] = sorted({*files, CARD_NAME})
    return write_manifest(model_dir, manifest)


def _summary(ev: dict[str, Any]) -> dict[str, float]:
    return {k: round(ev[k], 6) for k in ("eer", "min_dcf", "act_dcf", "cllr")}


def render_model_card(manifest: dict[str, Any]) -> str:
    """Markdown model card from a manifest (description, data, measured performance)."""
    t = manifest.get("training", {})
    lines = [
        f"# Model card: {manifest['name']} {manifest.get('version', '')}",
        "",
        manifest.get("description", ""),
        "",
        "## Intended use",
        "",
        "Screening call audio for synthetic speech (TTS, voice conversion, vocoded speech) as one "
        "risk signal for a fraud team. Not an identity check, not proof of fraud on its own; "
        "decisions on people need a human review.",
        "",
        "## Model",
        "",
        f"- format: `{manifest['format']}`, sample rate {manifest['sample_rate']} Hz",
        f"- features: `{json.dumps(manifest['feature'])}`",
        f"- windows: `{json.dumps(manifest['window'])}`",
        f"- calibration: `{json.dumps(manifest.get('calibration'))}`",
        f"- tier thresholds (LLR): `{json.dumps(manifest.get('thresholds'))}`",
        "",
        "## Training data",
        "",
        f"- manifest: `{t.get('manifest', '?')}`, split rule: {t.get('split_rule', '?')}, "
        f"seed {t.get('seed', '?')}",
        f"- files per split: `{json.dumps(t.get('files', {}))}`",
        f"- wall time: {t.get('wall_seconds', '?')} s",
    ]
    for split, systems in t.get("systems", {}).items():
        lines.append(f"- {split} spoof systems ({len(systems)}): {', '.join(systems)}")
    return "\n".join([*lines, "", render_measured(manifest)])


def render_measured(manifest: dict[str, Any]) -> str:
    """The card's measured-performance and limitations sections (from ``evaluate``)."""
    lines = [MEASURED_HEADING, ""]
    evaluations = manifest.get("metrics", {}).get("evaluations", {})
    if not evaluations:
        lines += [
            "Not evaluated yet: `audio-detect evaluate --manifest PROTOCOL.csv --model "
            f"{manifest['name']} --update-card [--channel tel_mulaw]` fills this section.",
            "",
        ]
    else:
        lines += [
            "| protocol | condition | EER | minDCF | actDCF | Cllr | system-mean EER "
            "| worst system | bona fide | spoof | not scored |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        order = sorted(evaluations, key=lambda k: split_condition(k)[0] != DEFAULT_PROTOCOL)
        for key in order:
            ev = evaluations[key]
            proto, cond = split_condition(key)
            lines.append(
                f"| {proto} | `{cond}` | {_pct(ev['eer'])} | {ev['min_dcf']:.4f} "
                f"| {ev['act_dcf']:.4f} | {ev['cllr']:.4f} | {_system_cells(ev)} "
                f"| {ev['n_bonafide']} | {ev['n_spoof']} | {ev['n_failed']} |"
            )
        lines += [
            "",
            "EER pools every trial, so a system with many spoofs weighs more; system-mean "
            "EER is the mean of the per-system EERs (each system once, against all bona "
            "fide trials), the worst system the highest of them.",
            "",
            "Reproduce each row:",
            "",
        ]
        lines += [
            f"- `{k}`: `{evaluations[k]['command']}` ({evaluations[k]['date']})" for k in order
        ]
        lines.append("")
        for proto in dict.fromkeys(split_condition(k)[0] for k in order):
            sub_evals = {k: v for k, v in evaluations.items() if split_condition(k)[0] == proto}
            lines += _group_matrix(sub_evals, "family", title=f"{proto} protocol: ")
    for cond, ev in evaluations.items():
        lines += [
            f"<details><summary>Condition <code>{cond}</code>: EER per system and group</summary>",
            "",
            "EER per spoof system (each against all bona fide trials):",
            "",
            "| system | EER |",
            "|---|---|",
            *[f"| {k} | {_pct(v)} |" for k, v in ev["per_system"].items()],
            "",
        ]
        for col, groups in ev.get("per_group", {}).items():
            lines += [f"EER per {col}:", "", f"| {col} | EER |", "|---|---|"]
            lines += [f"| {k} | {_pct(v)} |" for k, v in groups.items()]
            lines.append("")
        lines += ["</details>", ""]
    lines += [
        "## Limitations",
        "",
        "- Trained on a small corpus; spoofing systems and conditions unlike its training data "
        "(especially modern zero-shot voice cloning) may be missed. Treat the score as one "
        "signal among others.",
        "- Trials with less speech than the window rule's minimum get `not_enough_speech`, "
        "counted under 'not scored'.",
        "- Tier thresholds come from the dev split; with fewer bona fide dev trials than "
        "1/target rate they sit above every dev trial (see training log).",
        "",
    ]
    return "\n".join(lines)


def _system_cells(ev: dict[str, Any]) -> str:
    """The ``system-mean EER | worst system`` cells of a stored evaluation (its per-system EERs)."""
    from .metrics import system_average

    if not ev.get("per_system"):
        return "- | -"
    sa = system_average(ev["per_system"])
    return f"{_pct(sa['eer_mean'])} | {sa['worst_system']} ({_pct(sa['eer_max'])})"


def _group_matrix(evaluations: dict[str, Any], col: str, *, title: str = "") -> list[str]:
    """EER per value of ``col`` (rows) and condition (columns), when recorded."""
    conds = [c for c, ev in evaluations.items() if col in ev.get("per_group", {})]
    if not conds:
        return []
    values = sorted({v for c in conds for v in evaluations[c]["per_group"][col]})
    lines = [
        f"{title}EER per {col} (each against all bona fide trials) and condition:",
        "",
        f"| {col} | " + " | ".join(f"`{split_condition(c)[1]}`" for c in conds) + " |",
        "|---|" + "---|" * len(conds),
    ]
    for v in values:
        cells = [evaluations[c]["per_group"][col].get(v) for c in conds]
        lines.append(
            f"| {v} | " + " | ".join(_pct(x) if x is not None else "-" for x in cells) + " |"
        )
    return [*lines, ""]
