"""End-to-end ``corpus build --smoke`` and ``corpus audit`` through the CLI sub-app."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import soundfile as sf
import typer
from typer.testing import CliRunner

from audio_detect.cli.corpus import corpus_app
from audio_detect.corpus.builder import MANIFEST_COLUMNS

FIXTURES = Path(__file__).parents[1] / "fixtures" / "audio"

# The fresh rebuild below renders the espeak source: espeak-ng, not only flite.
pytestmark = pytest.mark.requires("espeak-ng")


def _app() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(corpus_app, name="corpus")
    return app


@pytest.fixture(scope="module")
def smoke_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    res = CliRunner().invoke(
        _app(),
        [
            "corpus",
            "build",
            "--out",
            str(out),
            "--smoke",
            "--workers",
            "2",
            "--fixtures",
            str(FIXTURES),
        ],
    )
    assert res.exit_code == 0, res.output
    return out


def _rows(root: Path) -> list[dict[str, str]]:
    with (root / "manifest.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_manifest_columns_and_files(smoke_corpus: Path):
    rows = _rows(smoke_corpus)
    assert len(rows) >= 20
    assert list(rows[0]) == list(MANIFEST_COLUMNS)
    assert {r["label"] for r in rows} == {"bonafide", "spoof"}
    for r in rows:
        info = sf.info(str(smoke_corpus / r["path"]))
        assert info.samplerate == 16000
        assert info.subtype == "PCM_16"
        assert info.format == "FLAC"
        assert abs(info.duration - float(r["duration_s"])) < 1e-3
        assert r["split"] in ("train", "dev", "eval")
        assert r["channel"]
        if r["label"] == "spoof":
            assert r["system"] != "bonafide" and r["family"] != "bonafide"


def test_copies_name_their_bona_fide_source(smoke_corpus: Path):
    rows = _rows(smoke_corpus)
    bona_items = {r["item"]: r for r in rows if r["label"] == "bonafide"}
    assert all(r["item"] and r["path"].split("/")[-1].startswith(r["item"]) for r in rows)
    copies = [r for r in rows if r["family"] == "vocoder-copy-synthesis"]
    assert copies, "the smoke build copy-synthesises bona fide items"
    for r in copies:
        src = bona_items[r["parent"]]  # the source is a bona fide row of the manifest
        assert (src["split"], src["speaker"], src["text"]) == (r["split"], r["speaker"], r["text"])
    assert all(r["parent"] == "" for r in rows if r["label"] == "bonafide")


def test_protocols_respect_split_rules(smoke_corpus: Path):
    rows = _rows(smoke_corpus)
    by_system: dict[str, set[str]] = {}
    for r in rows:
        if r["label"] == "spoof":
            by_system.setdefault(r["system"], set()).add(r["split"])
    assert all(len(s) == 1 for s in by_system.values()), by_system
    summary = json.loads((smoke_corpus / "protocols" / "summary.json").read_text())
    assert summary["checks"]["eval_systems_unseen_in_train"]
    assert summary["checks"]["bonafide_speakers_disjoint_train_eval"]
    for split in ("train", "dev", "eval"):
        with (smoke_corpus / "protocols" / f"{split}.csv").open() as fh:
            proto = list(csv.DictReader(fh))
        assert all(p["split"] == split for p in proto)
        assert all((smoke_corpus / "protocols" / p["path"]).is_file() for p in proto)
    # Copy-synthesis keeps the split of its source speaker's bona fide recordings.
    bona_split = {r["speaker"]: r["split"] for r in rows if r["label"] == "bonafide"}
    for r in rows:
        if r["family"] == "vocoder-copy-synthesis":
            assert bona_split[r["speaker"]] == r["split"]


def test_build_is_resumable_and_deterministic(smoke_corpus: Path, tmp_path: Path):
    before = {p: p.stat().st_mtime_ns for p in (smoke_corpus / "audio").rglob("*.flac")}
    res = CliRunner().invoke(
        _app(),
        ["corpus", "build", "--out", str(smoke_corpus), "--smoke", "--fixtures", str(FIXTURES)],
    )
    assert res.exit_code == 0, res.output
    after = {p: p.stat().st_mtime_ns for p in (smoke_corpus / "audio").rglob("*.flac")}
    assert before == after  # nothing re-rendered
    # A fresh build of one source with the same seed gives the same samples.
    res = CliRunner().invoke(
        _app(),
        [
            "corpus",
            "build",
            "--out",
            str(tmp_path),
            "--smoke",
            "--sources",
            "espeak,fixtures",
            "--fixtures",
            str(FIXTURES),
        ],
    )
    assert res.exit_code == 0, res.output
    fresh = [r for r in _rows(tmp_path) if r["system"].startswith("espeak")]
    assert fresh
    for r in fresh[:5]:
        a, _ = sf.read(str(tmp_path / r["path"]), dtype="int16")
        b, _ = sf.read(str(smoke_corpus / r["path"]), dtype="int16")
        assert (a == b).all()


def test_audit_runs_and_reports_features(smoke_corpus: Path):
    res = CliRunner().invoke(
        _app(),
        [
            "corpus",
            "audit",
            "--manifest",
            str(smoke_corpus / "manifest.csv"),
            "--split",
            "train",
            "--json",
            "--min-eer",
            "0",
        ],
    )
    assert res.exit_code == 0, res.output
    payload = json.loads(res.output)
    assert 0.0 <= payload["eer"] <= 1.0
    assert {f["feature"] for f in payload["per_feature"]} >= {"rms_db", "log_duration"}


def test_unknown_source_is_a_clean_error(tmp_path: Path):
    res = CliRunner().invoke(
        _app(), ["corpus", "build", "--out", str(tmp_path), "--sources", "nope"]
    )
    assert res.exit_code == 2
    assert "sources" in res.output
