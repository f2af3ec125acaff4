import json
import shutil

import pytest
from typer.testing import CliRunner

from audio_detect.cli import app
from audio_detect.exceptions import ModelIntegrityError
from audio_detect.registry import load_model_dir

runner = CliRunner()


def test_score_json_and_table(tiny_gmm_dir, fixture_audio) -> None:
    paths = [str(p) for p in fixture_audio.values()]
    res = runner.invoke(app, ["score", *paths, "--model", str(tiny_gmm_dir), "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert len(rows) == 4
    assert {r["verdict"] for r in rows} <= {"bonafide", "spoof", "not_enough_speech"}
    assert all(r["model"]["name"] == "tiny-gmm" and r["windows"] for r in rows)
    res = runner.invoke(app, ["score", paths[0], "--model", str(tiny_gmm_dir), "--timeline"])
    assert res.exit_code == 0 and "LLR" in res.stdout


def test_score_reports_bad_files_and_exits_nonzero(tiny_gmm_dir, tmp_path, fixture_audio) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00")
    good = str(next(iter(fixture_audio.values())))
    res = runner.invoke(app, ["score", good, str(bad), "--model", str(tiny_gmm_dir), "--json"])
    assert res.exit_code == 1
    rows = json.loads(res.stdout)
    assert "error" not in rows[0] and rows[1]["error"]["code"] == "audio_decode_error"


def test_evaluate_generic_csv_prints_eer(tiny_gmm_dir, fixture_audio, tmp_path) -> None:
    lines = ["path,label,system"]
    for stem, path in fixture_audio.items():
        shutil.copy(path, tmp_path / path.name)
        label = "fake" if stem.startswith("spoof") else "real"
        lines.append(f"{path.name},{label},{stem.split('_')[1] if label == 'fake' else ''}")
    (tmp_path / "trials.csv").write_text("\n".join(lines) + "\n")
    scores = tmp_path / "scores.txt"
    res = runner.invoke(
        app,
        [
            "evaluate",
            "--manifest",
            str(tmp_path / "trials.csv"),
            "--model",
            str(tiny_gmm_dir),
            "--scores-out",
            str(scores),
            "--json-out",
            str(tmp_path / "m.json"),
        ],
    )
    assert res.exit_code == 0, res.output
    eer_lines = [ln for ln in res.stdout.splitlines() if ln.startswith("EER: ")]
    assert len(eer_lines) == 1
    m = json.loads((tmp_path / "m.json").read_text())
    assert float(eer_lines[0].split()[1]) == round(100 * m["eer"], 4)
    assert m["eer"] == 0.0  # the tiny model was fitted on exactly these clips
    assert set(m["per_system"]) == {"hn-nsf", "wavefake"}
    sa = m["system_average"]
    assert sa["n_systems"] == 2 and sa["eer_mean"] == 0.0
    assert "EER averaged over 2 spoof systems: 0.00 %" in res.stdout
    assert len(scores.read_text().splitlines()) == 4
    # the score file round-trips through the metrics command
    res = runner.invoke(app, ["metrics", "--scores", str(scores)])
    assert res.exit_code == 0 and "EER: 0.0000" in res.stdout


def test_evaluate_needs_one_source() -> None:
    res = runner.invoke(app, ["evaluate"])
    assert res.exit_code == 2


def test_models_lists_shipped_default() -> None:
    res = runner.invoke(app, ["models", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert any(r.get("default") for r in rows)


def test_models_refreshes_a_card_from_its_manifest(tiny_gmm_dir, tmp_path) -> None:
    model = shutil.copytree(tiny_gmm_dir, tmp_path / "tiny-gmm")
    card = model / "MODEL_CARD.md"
    card.write_text("# stale card\n")  # the manifest's sha256 no longer matches
    res = runner.invoke(app, ["models", "--refresh-card", str(model), "--json"])
    assert res.exit_code == 0, res.output
    assert "refreshed" in res.stdout
    assert "## Measured performance" in card.read_text()
    # verified on load: the refreshed card is listed with its sha256
    assert "MODEL_CARD.md" in load_model_dir(model).manifest["files"]
    # text a maintainer adds above the measured section is kept and re-hashed
    text = card.read_text()
    head, measured = text.split("## Measured performance", 1)
    card.write_text(
        head + "## Seeds and choice\n\nSeed 0, by dev.\n\n## Measured performance" + measured
    )
    with pytest.raises(ModelIntegrityError, match=r"MODEL_CARD\.md"):
        load_model_dir(model)
    res = runner.invoke(app, ["models", "--refresh-card", str(model)])
    assert res.exit_code == 0, res.output
    assert "Seed 0, by dev." in card.read_text()
    load_model_dir(model)  # verified again
    # the card is the only file refresh does not verify first
    listed = load_model_dir(model).manifest["files"]
    weights = next(model / f for f in listed if not f.endswith(".md"))
    weights.write_bytes(weights.read_bytes() + b"\0")
    res = runner.invoke(app, ["models", "--refresh-card", str(model)])
    assert res.exit_code != 0 and "sha256" in " ".join(res.output.split())
    res = runner.invoke(app, ["models", "--refresh-card", "no-such-model"])
    assert res.exit_code != 0
