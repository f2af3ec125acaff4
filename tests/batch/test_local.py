"""The local engine: same numbers as Detector.score_file, failures as rows, resume, shards."""

from __future__ import annotations

import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from audio_detect.batch import (
    SCHEMA,
    ScoreOptions,
    ShardWriter,
    list_shards,
    load_done_index,
    read_results,
    run_batch,
    score_path,
)
from audio_detect.batch import records as records_mod
from audio_detect.detector import Detector
from audio_detect.exceptions import ParameterError

TOL = 1e-9


@pytest.fixture(scope="module")
def detector(tiny_gmm_dir: Path) -> Detector:
    return Detector.load(tiny_gmm_dir)


def assert_row_matches(row: dict, decision) -> None:
    """A Parquet row holds exactly the decision's numbers (within 1e-9)."""
    assert row["error_code"] is None, row["error_message"]
    assert row["verdict"] == decision.verdict and row["tier"] == decision.tier
    for key in ("p_spoof", "llr", "score"):
        assert abs(row[key] - getattr(decision, key)) <= TOL, key
    assert row["duration"] == decision.duration
    assert row["speech_seconds"] == decision.speech_seconds
    assert len(row["timeline"]) == len(decision.windows) == row["n_windows"]
    for got, want in zip(row["timeline"], decision.windows, strict=True):
        assert (got["start"], got["end"]) == (want.start, want.end)
        assert abs(got["llr"] - want.llr) <= TOL and abs(got["p_spoof"] - want.p_spoof) <= TOL
    assert row["model_sha256"] == decision.model["sha256"]


def test_local_engine_matches_score_file(archive, tiny_gmm_dir, detector, tmp_path) -> None:
    seen = []
    summary = run_batch(
        [str(p) for p in archive],
        out=tmp_path / "out",
        engine="local",
        workers=2,
        model=tiny_gmm_dir,
        shard_rows=7,
        progress=seen.append,
    )
    n = len(archive)
    assert (summary.total, summary.scored, summary.failed, summary.skipped) == (n, n, 0, 0)
    assert len(summary.shards) == -(-n // 7) == len(list_shards(tmp_path / "out"))
    assert seen[-1].done == n and seen[-1].audio_seconds == pytest.approx(summary.audio_seconds)
    table = read_results(tmp_path / "out")
    assert table.schema.equals(SCHEMA, check_metadata=False)
    rows = {r["path"]: r for r in table.to_pylist()}
    assert sorted(rows) == sorted(str(p) for p in archive)
    assert len({r["worker"] for r in rows.values()}) == 2
    for path in archive:
        assert_row_matches(rows[str(path)], detector.score_file(path))


def _corrupt_inputs(root: Path, fixture_audio) -> dict[str, Path]:
    root.mkdir()
    good = root / "good.flac"
    shutil.copyfile(fixture_audio["bonafide_8k_hts1a"], good)
    truncated = root / "truncated.flac"
    truncated.write_bytes(good.read_bytes()[:300])
    noise = root / "noise.wav"
    noise.write_bytes(np.random.default_rng(0).bytes(4000))
    empty = root / "empty.wav"
    empty.write_bytes(b"")
    silent = root / "silent.wav"
    sf.write(silent, np.zeros(16000, dtype=np.float32), 8000)
    return {
        "good": good,
        "truncated": truncated,
        "noise": noise,
        "empty": empty,
        "silent": silent,
        "missing": root / "missing.wav",
        "folder": root,
    }


def test_failures_are_rows_not_aborts(fixture_audio, tiny_gmm_dir, tmp_path) -> None:
    files = _corrupt_inputs(tmp_path / "in", fixture_audio)
    manifest = tmp_path / "list.csv"
    manifest.write_text("path\n" + "\n".join(str(p) for p in files.values()) + "\n")
    out = tmp_path / "out"
    summary = run_batch(manifest, out=out, model=tiny_gmm_dir, workers=1)
    assert summary.scored == len(files) and summary.failed == 5
    rows = {r["path"]: r for r in read_results(out).to_pylist()}
    code = {k: rows[str(p)]["error_code"] for k, p in files.items()}
    assert code == {
        "good": None,
        "truncated": "audio_decode_error",
        "noise": "not_audio",
        "empty": "empty_input",
        "silent": None,
        "missing": "file_not_found",
        "folder": "io_error",
    }
    assert rows[str(files["silent"])]["verdict"] == "not_enough_speech"
    assert rows[str(files["silent"])]["p_spoof"] is None
    bad = rows[str(files["noise"])]
    assert bad["sha256"] and bad["error_message"] and bad["model_name"] == "tiny-gmm"
    assert bad["verdict"] is None and bad["timeline"] is None
    assert rows[str(files["missing"])]["sha256"] is None

    # A rerun retries only what may succeed next time (unreadable paths).
    again = run_batch(manifest, out=out, model=tiny_gmm_dir, workers=1)
    assert (again.scored, again.skipped) == (2, len(files) - 2)
    files["missing"].write_bytes(files["good"].read_bytes())
    third = run_batch(manifest, out=out, model=tiny_gmm_dir, workers=1, retry_failed=True)
    assert (third.scored, third.failed) == (5, 4)  # 3 decode errors + folder again, missing ok
    latest = {r["path"]: r for r in read_results(out).to_pylist()}
    assert latest[str(files["missing"])]["error_code"] is None
    assert read_results(out, latest=False).num_rows == len(files) + 2 + 5


def test_resume_skips_same_content_and_rescores_changed(
    fixture_audio, tiny_gmm_dir, detector, tmp_path
) -> None:
    src = tmp_path / "calls"
    src.mkdir()
    for stem, path in fixture_audio.items():
        shutil.copyfile(path, src / f"{stem}.flac")
    out = tmp_path / "out"
    first = run_batch(src, out=out, model=tiny_gmm_dir, workers=1, shard_rows=2)
    assert (first.scored, len(first.shards)) == (4, 2)
    before = {p: p.stat().st_mtime_ns for p in list_shards(out)}

    changed = src / "bonafide_8k_hts1a.flac"
    shutil.copyfile(fixture_audio["spoof_hn-nsf_slt_arctic_b0474"], changed)
    added = src / "new.flac"
    shutil.copyfile(fixture_audio["bonafide_lj001-0001"], added)
    second = run_batch(src, out=out, model=tiny_gmm_dir, workers=1, shard_rows=2)
    assert (second.total, second.scored, second.skipped) == (5, 2, 3)
    assert {p: p.stat().st_mtime_ns for p in before} == before  # old shards untouched
    new_rows = pq.read_table(second.shards[0]).to_pylist()
    assert sorted(r["path"] for r in new_rows) == sorted([str(changed), str(added)])
    latest = {r["path"]: r for r in read_results(out).to_pylist()}
    assert len(latest) == 5
    assert_row_matches(latest[str(changed)], detector.score_file(changed))
    assert read_results(out, latest=False).num_rows == 6  # the changed file's old row stays

    third = run_batch(src, out=out, model=tiny_gmm_dir, workers=1)
    assert (third.scored, third.skipped, third.shards) == (0, 5, [])


def test_score_path_skips_known_sha(detector, fixture_audio) -> None:
    path = str(fixture_audio["bonafide_8k_hts1a"])
    row = score_path(detector, path)
    assert row is not None and row["sha256"]
    assert score_path(detector, path, skip_sha256={row["sha256"]}) is None
    assert score_path(detector, path, skip_sha256={"0" * 64}) is not None
    long = score_path(detector, path, options=ScoreOptions(max_bytes=100))
    assert long["error_code"] == "audio_too_long" and long["sha256"] == row["sha256"]
    short = score_path(detector, path, options=ScoreOptions(max_seconds=1.0))
    assert short["error_code"] == "audio_too_long"


def test_shard_writes_are_atomic(tmp_path, monkeypatch) -> None:
    out = tmp_path / "out"
    writer = ShardWriter(out, shard_rows=2)
    row = records_mod.error_record(
        "/x.wav", code="io_error", message="m", model={"name": "m"}, worker="w"
    )
    assert writer.add([row]) == [] and list_shards(out) == []
    assert len(writer.add([row, row, row])) == 2
    assert writer.flush() is None

    def crash(table, where, **kwargs):
        Path(where).write_bytes(b"PAR1 half a shard")
        raise OSError("disk full")

    monkeypatch.setattr(records_mod.pq, "write_table", crash)
    with pytest.raises(OSError, match="disk full"):
        writer.add([row, row])
    assert len(list_shards(out)) == 2 and not list(out.glob(".*.tmp"))
    (out / ".part-x.parquet.1234.tmp").write_bytes(b"left by a kill")
    assert records_mod.remove_stale_temp_files(out) == 1
    assert load_done_index(out) == {}  # io_error rows are retried
    with pytest.raises(ParameterError):
        ShardWriter(out, shard_rows=0)


def test_audit_store_is_optional(fixture_audio, tiny_gmm_dir, tmp_path, monkeypatch) -> None:
    src = [str(p) for p in fixture_audio.values()]
    monkeypatch.setitem(sys.modules, "audio_detect_service.store", None)  # not importable
    summary = run_batch(src, out=tmp_path / "a", model=tiny_gmm_dir, workers=1, audit_db="x://")
    assert summary.scored == 4 and summary.audit_rows == 0

    class BrokenStore:
        def __init__(self, url: str) -> None:
            self.closed = False

        def migrate(self) -> str:
            return "head"

        def add_decision(self, record: dict) -> str:
            raise RuntimeError("db down")

        def close(self) -> None:
            self.closed = True

    broken = types.SimpleNamespace(Store=BrokenStore)
    monkeypatch.setitem(sys.modules, "audio_detect_service.store", broken)
    summary = run_batch(src, out=tmp_path / "b", model=tiny_gmm_dir, workers=1, audit_db="x://")
    assert summary.scored == 4 and "db down" in summary.audit_error


def test_audit_store_gets_one_decision_per_scored_file(
    fixture_audio, tiny_gmm_dir, tmp_path
) -> None:
    store_mod = pytest.importorskip("audio_detect_service.store")
    if not hasattr(store_mod, "Store"):
        pytest.skip("api.store has no Store")
    src = [str(p) for p in fixture_audio.values()] + [str(tmp_path / "missing.wav")]
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    summary = run_batch(src, out=tmp_path / "out", model=tiny_gmm_dir, workers=1, audit_db=url)
    assert (summary.scored, summary.failed, summary.audit_rows) == (5, 1, 4)
    store = store_mod.Store(url)
    try:
        got = store.list_decisions(limit=10)
    finally:
        store.close()
    rows = {r["path"]: r for r in read_results(tmp_path / "out").to_pylist()}
    assert len(got) == 4 and {d["kind"] for d in got} == {"batch"}
    for d in got:
        row = rows[d["client"]["path"]]
        assert d["call_id"] == Path(row["path"]).stem and d["audio_sha256"] == row["sha256"]
        assert (d["verdict"], d["p_spoof"], d["prior"]) == (row["verdict"], row["p_spoof"], 0.5)
        assert len(d["timeline"]) == row["n_windows"]


def test_argument_errors(tiny_gmm_dir, tmp_path) -> None:
    with pytest.raises(ParameterError, match="'engine'"):
        run_batch([], out=tmp_path, engine="spark", model=tiny_gmm_dir)
    with pytest.raises(ParameterError, match="'workers'"):
        run_batch([], out=tmp_path, workers=0, model=tiny_gmm_dir)
    with pytest.raises(ParameterError, match="'ray_address'"):
        run_batch([], out=tmp_path, ray_address="auto", model=tiny_gmm_dir)
    with pytest.raises(ParameterError, match="'max_seconds'"):
        ScoreOptions(max_seconds=0)
    empty = run_batch([], out=tmp_path / "none", model=tiny_gmm_dir)
    assert (empty.total, empty.shards) == (0, [])
