"""The Ray engine on a local Ray instance: same scores as ``audio-detect score``, resumable.

One Ray session (2 CPUs, loopback only, no dashboard) serves the whole module.
"""

from __future__ import annotations

import json
import os
import shutil

import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from audio_detect.batch import list_shards, read_results, run_batch
from audio_detect.cli.score import score

ray = pytest.importorskip("ray")

TOL = 1e-9


@pytest.fixture(scope="module")
def ray_session():
    """A local Ray instance shared by the tests of this module."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if ray.is_initialized():  # pragma: no cover - someone else's session
        pytest.skip("a Ray session is already open in this process")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        log_to_driver=False,
        configure_logging=False,
    )
    yield
    ray.shutdown()


def _score_cli_json(model, paths) -> dict[str, dict]:
    """``audio-detect score --json`` on ``paths``, by file."""
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Test application."""

    app.command("score")(score)
    result = CliRunner().invoke(app, ["score", "--json", "--model", str(model), *map(str, paths)])
    assert result.exit_code == 0, result.output
    return {r["file"]: r for r in json.loads(result.stdout)}


def _assert_same(row: dict, ref: dict) -> None:
    assert row["error_code"] is None, row["error_message"]
    assert (row["verdict"], row["tier"]) == (ref["verdict"], ref["tier"])
    for key in ("p_spoof", "llr", "score"):
        assert abs(row[key] - ref[key]) <= TOL, key
    assert (row["duration"], row["speech_seconds"]) == (ref["duration"], ref["speech_seconds"])
    assert row["model_sha256"] == ref["model"]["sha256"]
    assert len(row["timeline"]) == len(ref["windows"])
    for got, want in zip(row["timeline"], ref["windows"], strict=True):
        assert (got["start"], got["end"]) == (want["start"], want["end"])
        assert abs(got["llr"] - want["llr"]) <= TOL
        assert abs(got["p_spoof"] - want["p_spoof"]) <= TOL


def test_ray_engine_matches_score_cli_and_resumes(
    ray_session, archive, tiny_gmm_dir, fixture_audio, tmp_path
) -> None:
    """One Ray run over a folder half-done by an earlier (local) run: skips, rescoring, scores."""
    assert len(archive) >= 24
    out = tmp_path / "out"
    changed, missing = tmp_path / "changed.flac", tmp_path / "gone.wav"
    shutil.copyfile(fixture_audio["bonafide_8k_hts1a"], changed)
    done_before = [str(p) for p in archive[:4]]
    earlier = run_batch([*done_before, str(changed)], out=out, model=tiny_gmm_dir, workers=1)
    assert earlier.scored == 5
    before = {p: p.stat().st_mtime_ns for p in list_shards(out)}
    shutil.copyfile(fixture_audio["spoof_hn-nsf_slt_arctic_b0474"], changed)  # new content

    paths = [str(p) for p in archive] + [str(changed), str(missing)]
    summary = run_batch(
        paths, out=out, engine="ray", workers=2, model=tiny_gmm_dir, shard_rows=8, batch_size=2
    )
    assert (summary.total, summary.skipped) == (len(paths), 4)
    assert (summary.scored, summary.failed) == (len(paths) - 4, 1)
    assert {p: p.stat().st_mtime_ns for p in before} == before  # earlier shards untouched
    ray_rows = [r for s in summary.shards for r in pq.read_table(s).to_pylist()]
    assert sorted(r["path"] for r in ray_rows) == sorted(set(paths) - set(done_before))
    assert len({r["worker"] for r in ray_rows}) == 2  # both actors scored

    rows = {r["path"]: r for r in read_results(out).to_pylist()}
    assert set(rows) == set(paths)
    assert rows[str(missing)]["error_code"] == "file_not_found"
    scored = [*archive, changed]
    reference = _score_cli_json(tiny_gmm_dir, scored)
    for path in scored:
        _assert_same(rows[str(path)], reference[str(path)])
