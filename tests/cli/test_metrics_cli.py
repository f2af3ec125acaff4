"""Tests of the ``metrics`` command, registered on a throwaway typer app."""

from __future__ import annotations

import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from audio_detect.cli.metrics import metrics
from audio_detect.evaluation.metrics import compute_eer, min_dcf


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Test application (a callback keeps 'metrics' a subcommand)."""

    app.command("metrics")(metrics)
    return app


def _run(*args: str):
    return CliRunner().invoke(_app(), ["metrics", *args])


def _stderr(result) -> str:
    """stderr with rich's line wrapping undone."""
    return " ".join(result.stderr.split())


@pytest.fixture
def synthetic(tmp_path):
    """A small score file (bona-fide-high, 2 columns) and its 5-column protocol."""
    rng = np.random.default_rng(0)
    n = 60
    labels = np.array([0] * 20 + [1] * 40)
    systems = ["-"] * 20 + ["A01"] * 20 + ["A02"] * 20
    llr_spoof = np.where(labels == 1, rng.normal(1.5, 1.5, n), rng.normal(-1.5, 1.5, n))
    llr_spoof[20:40] += 2.0  # A01 is easier than A02
    ids = [f"T_{i:04d}" for i in range(n)]
    order = rng.permutation(n)  # score file in another order than the protocol
    scores = tmp_path / "scores.txt"
    scores.write_text("".join(f"{ids[i]} {float(-llr_spoof[i])!r}\n" for i in order))
    protocol = tmp_path / "protocol.txt"
    protocol.write_text(
        "".join(
            f"SPK {u} - {s} {'spoof' if y else 'bonafide'}\n"
            for u, s, y in zip(ids, systems, labels, strict=True)
        )
    )
    return {"scores": scores, "protocol": protocol, "labels": labels, "llr": llr_spoof}


def test_synthetic_text_report(synthetic):
    result = _run("--scores", str(synthetic["scores"]), "--protocol", str(synthetic["protocol"]))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    eer, _ = compute_eer(synthetic["labels"], synthetic["llr"])
    assert lines[0] == f"EER: {100 * eer:.4f}"
    assert lines[1] == f"minDCF: {min_dcf(synthetic['labels'], synthetic['llr']):.4f}"
    assert lines[2].startswith("actDCF: ") and lines[3].startswith("Cllr: ")
    assert not any("t-DCF" in line for line in lines)  # no --asv-scores
    table = "\n".join(lines[4:])
    assert "A01" in table and "A02" in table and "pooled" in table


def test_synthetic_json_and_direction_flag(synthetic):
    args = ["--scores", str(synthetic["scores"]), "--protocol", str(synthetic["protocol"])]
    result = _run(*args, "--json", "--no-llr")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["n_bonafide"] == 20 and out["n_spoof"] == 40
    assert out["eer"] == pytest.approx(compute_eer(synthetic["labels"], synthetic["llr"])[0])
    assert "cllr" not in out and "act_dcf" not in out
    assert set(out["breakdown"]) == {"A01", "A02"}
    assert out["breakdown"]["A01"]["eer"] <= out["breakdown"]["A02"]["eer"]
    # Reading the same file in the wrong direction turns a good detector into a bad one.
    flipped = json.loads(_run(*args, "--json", "--higher-is-spoof").stdout)
    assert flipped["eer"] > 0.5 > out["eer"]


def test_keys_from_score_file_without_protocol(tmp_path):
    scores = tmp_path / "cm.txt"
    scores.write_text("a - bonafide 2.0\nb A01 spoof -1.0\nc - bonafide 0.5\nd A01 spoof 0.0\n")
    result = _run("--scores", str(scores), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["eer"] == 0.0


def test_missing_scores_are_reported(synthetic, tmp_path):
    protocol = tmp_path / "protocol_plus.txt"
    protocol.write_text(synthetic["protocol"].read_text() + "SPK T_9999 - A01 spoof\n")
    result = _run("--scores", str(synthetic["scores"]), "--protocol", str(protocol))
    assert result.exit_code != 0
    assert "T_9999" in _stderr(result) and "no score for 1 of 61" in _stderr(result)


def test_labels_needed(synthetic):
    result = _run("--scores", str(synthetic["scores"]))
    assert result.exit_code != 0
    assert "no KEY column" in _stderr(result) and "--protocol" in _stderr(result)


@pytest.mark.shared
def test_reference_report_matches_official_values(reference_scores):
    protocol, mat, asv = (reference_scores[k] for k in ("protocol", "lfcc_gmm", "asv"))
    result = _run("--scores", str(mat), "--protocol", str(protocol), "--asv-scores", str(asv))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:6] == [
        "EER: 3.5056",
        "min t-DCF (2019): 0.09344",
        "min t-DCF (2021): 0.15031",
        "minDCF: 0.0862",
        "actDCF: 0.4354",
        "Cllr: 0.4028",
    ]
    assert "A17" in result.stdout
