"""Model cards: numbers only from ``evaluate``, the trainer's text kept across updates."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from audio_detect.datasets.manifest import Utterance
from audio_detect.evaluation.evaluate import evaluate_manifest, report
from audio_detect.evaluation.model_card import (
    MEASURED_HEADING,
    condition_key,
    refresh_model_card,
    split_condition,
    update_model_card,
)
from audio_detect.exceptions import ParameterError
from audio_detect.registry import load_model_dir


def _trials(fixture_audio: dict[str, Path]) -> list[Utterance]:
    return [
        Utterance(
            utt_id=stem,
            path=path,
            label=int(stem.startswith("spoof")),
            system="bonafide" if stem.startswith("bonafide") else stem.split("_")[1],
            extra={"family": "bonafide" if stem.startswith("bonafide") else "vocoder"},
        )
        for stem, path in fixture_audio.items()
    ]


@pytest.fixture
def model_dir(tiny_gmm_dir: Path, tmp_path: Path) -> Path:
    out = tmp_path / "tiny-gmm"
    shutil.copytree(tiny_gmm_dir, out)
    return out


def _update(
    model_dir: Path,
    fixture_audio: dict[str, Path],
    channel: str | None,
    protocol: str | None = None,
) -> None:
    result = evaluate_manifest(_trials(fixture_audio), model=model_dir, channel=channel)
    key = condition_key(protocol, channel)
    update_model_card(model_dir, report(result), condition=key, command=f"eval {key}")


def test_card_is_rendered_from_evaluations(model_dir: Path, fixture_audio) -> None:
    _update(model_dir, fixture_audio, None)
    _update(model_dir, fixture_audio, "tel_mulaw")
    card = (model_dir / "MODEL_CARD.md").read_text()
    doc = json.loads((model_dir / "manifest.json").read_text())
    evals = doc["metrics"]["evaluations"]
    assert set(evals) == {"clean", "tel_mulaw"}
    assert doc["metrics"]["summary"]["eer"] == round(evals["clean"]["eer"], 6)
    for cond, ev in evals.items():
        assert f"| eval | `{cond}` | {100 * ev['eer']:.2f} %" in card
        assert f"`eval {cond}`" in card
        # system-mean EER and worst system, from the stored per-system EERs
        eers = ev["per_system"]
        worst = max(eers, key=lambda k: (eers[k], k))
        mean = sum(eers.values()) / len(eers)
        assert f"| {100 * mean:.2f} % | {worst} ({100 * eers[worst]:.2f} %) |" in card
    # Per-family matrix with one column per condition.
    assert "| family | `clean` | `tel_mulaw` |" in card
    assert "| vocoder |" in card
    load_model_dir(model_dir)  # the card's new sha256 is in the manifest


def test_trainer_text_above_the_measured_heading_is_kept(model_dir: Path, fixture_audio) -> None:
    intro = "# my model\n\nHand-written description that evaluate must not lose.\n\n"
    (model_dir / "MODEL_CARD.md").write_text(intro + MEASURED_HEADING + "\n\nNot yet.\n")
    _update(model_dir, fixture_audio, None)
    card = (model_dir / "MODEL_CARD.md").read_text()
    assert card.startswith(intro + MEASURED_HEADING)
    assert "Not yet." not in card and "| eval | `clean` |" in card
    assert card.count(MEASURED_HEADING) == 1


def test_condition_keys_name_the_protocol():
    assert condition_key(None, None) == "clean"
    assert condition_key("eval", "tel_gsm") == "tel_gsm"
    assert condition_key("modern", None) == "modern:clean"
    assert condition_key("modern", "tel_mulaw") == "modern:tel_mulaw"
    assert split_condition("modern:tel_mulaw") == ("modern", "tel_mulaw")
    assert split_condition("clean") == ("eval", "clean")
    with pytest.raises(ParameterError, match="protocol"):
        condition_key("bad name!", None)


def test_card_shows_every_protocol_with_its_own_summary(model_dir: Path, fixture_audio) -> None:
    _update(model_dir, fixture_audio, None)
    _update(model_dir, fixture_audio, None, protocol="modern")
    _update(model_dir, fixture_audio, "tel_mulaw", protocol="modern")
    doc = json.loads((model_dir / "manifest.json").read_text())
    evals = doc["metrics"]["evaluations"]
    assert set(evals) == {"clean", "modern:clean", "modern:tel_mulaw"}
    assert doc["metrics"]["summary"]["eer"] == round(evals["clean"]["eer"], 6)
    assert doc["metrics"]["summary_modern"]["eer"] == round(evals["modern:clean"]["eer"], 6)
    card = (model_dir / "MODEL_CARD.md").read_text()
    assert f"| modern | `tel_mulaw` | {100 * evals['modern:tel_mulaw']['eer']:.2f} %" in card
    assert "modern protocol: EER per family" in card
    assert "| family | `clean` | `tel_mulaw` |" in card
    assert "`eval modern:tel_mulaw`" in card
    load_model_dir(model_dir)


def test_summary_never_takes_another_protocols_figures(model_dir: Path, fixture_audio) -> None:
    """With only `modern` evaluated, `summary` (the default protocol's clean figures) comes
    from the training run's eval split when the manifest has one, else is absent."""
    doc = json.loads((model_dir / "manifest.json").read_text())
    doc.setdefault("metrics", {}).pop("summary", None)
    doc["metrics"].pop("eval", None)
    (model_dir / "manifest.json").write_text(json.dumps(doc))
    _update(model_dir, fixture_audio, None, protocol="modern")
    doc = json.loads((model_dir / "manifest.json").read_text())
    assert "summary" not in doc["metrics"]
    assert doc["metrics"]["summary_modern"]["eer"] == round(
        doc["metrics"]["evaluations"]["modern:clean"]["eer"], 6
    )
    train_eval = {"eer": 0.123, "min_dcf": 0.4, "act_dcf": 0.5, "cllr": 0.6, "n_trials": 9}
    doc["metrics"]["eval"] = train_eval
    (model_dir / "manifest.json").write_text(json.dumps(doc))
    _update(model_dir, fixture_audio, "tel_mulaw", protocol="modern")
    doc = json.loads((model_dir / "manifest.json").read_text())
    assert doc["metrics"]["summary"] == {
        k: train_eval[k] for k in ("eer", "min_dcf", "act_dcf", "cllr")
    }


def test_refresh_rerenders_the_card_from_stored_evaluations(model_dir: Path, fixture_audio) -> None:
    _update(model_dir, fixture_audio, None)
    card_path = model_dir / "MODEL_CARD.md"
    rendered = card_path.read_text()
    stale = rendered.split(MEASURED_HEADING, 1)[0] + MEASURED_HEADING + "\n\nan older render\n"
    card_path.write_text(stale)
    refresh_model_card(model_dir)
    assert card_path.read_text() == rendered  # nothing scored, same evaluations, same card
    load_model_dir(model_dir)  # the manifest holds the refreshed card's sha256
