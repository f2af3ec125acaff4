"""``audio-detect batch`` on a throwaway typer app; a job SIGKILLed midway, then resumed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from audio_detect.batch import list_shards, read_results
from audio_detect.cli.batch import batch

REPO = Path(__file__).resolve().parents[2]
# The subprocess runs the same command through the same kind of throwaway app.
APP_CODE = (
    "import typer\n"
    "from audio_detect.cli.batch import batch\n"
    "app = typer.Typer()\n"
    "app.command()(batch)\n"
    "app()\n"
)


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Test application (a callback keeps 'batch' a subcommand)."""

    app.command("batch")(batch)
    return app


def _run(*args: str):
    return CliRunner().invoke(_app(), ["batch", *map(str, args)])


def test_cli_scores_a_folder_and_prints_summary(archive, tiny_gmm_dir, tmp_path) -> None:
    folder = archive[0].parent
    out = tmp_path / "out"
    result = _run(folder, "--out", out, "--model", tiny_gmm_dir, "--workers", "1", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["total"] == summary["scored"] == len(archive)
    assert summary["audio_hours_per_hour"] > 0
    assert read_results(out).num_rows == len(archive)

    again = _run(folder, "--out", out, "--model", tiny_gmm_dir, "--workers", "1")
    assert again.exit_code == 0, again.output
    assert "skipped (already scored)" in again.stdout and str(len(archive)) in again.stdout


def test_cli_reports_bad_input_and_model(tiny_gmm_dir, tmp_path) -> None:
    result = _run(tmp_path / "nope", "--out", tmp_path / "o", "--model", tiny_gmm_dir)
    assert result.exit_code == 2 and "invalid_parameter" in result.stderr
    result = _run(tmp_path, "--out", tmp_path / "o", "--model", "no-such-model")
    assert result.exit_code == 2 and "model_not_found" in result.stderr
    result = _run(tmp_path, "--out", tmp_path / "o", "--engine", "spark")
    assert result.exit_code == 2


def test_killed_job_resumes_without_rescoring(archive, tiny_gmm_dir, tmp_path) -> None:
    """SIGKILL the CLI after a few shards, rerun: finished files are not scored again."""
    calls = tmp_path / "calls"
    calls.mkdir()
    for i in range(2):  # 2 copies of the archive: long enough to kill midway
        for p in archive:
            shutil.copyfile(p, calls / f"{i}_{p.name}")
    n = 2 * len(archive)
    out = tmp_path / "out"
    args = [calls, "--out", out, "--model", tiny_gmm_dir, "--workers", "2"]
    args += ["--shard-rows", "2", "--batch-size", "1"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", APP_CODE, *map(str, args)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the kill takes the workers too
    )
    try:
        deadline = time.monotonic() + 120
        while len(list_shards(out)) < 3 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the job ended before it could be killed"
    shards_before = {p: p.stat().st_mtime_ns for p in list_shards(out)}
    done_before = read_results(out, latest=False)
    assert 6 <= done_before.num_rows < n
    for shard in shards_before:  # every shard on disk is complete
        assert pq.read_table(shard).num_rows == 2

    result = _run(*args, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["skipped"] == done_before.num_rows
    assert summary["scored"] == n - done_before.num_rows
    assert {p: p.stat().st_mtime_ns for p in shards_before} == shards_before
    everything = read_results(out, latest=False)
    paths = everything.column("path").to_pylist()
    assert len(paths) == len(set(paths)) == n  # nobody scored twice
    assert not list(out.glob(".*.tmp"))
    first_run = set(done_before.column("path").to_pylist())
    new_rows = [r for s in summary["shards"] for r in pq.read_table(s).to_pylist()]
    assert first_run.isdisjoint(r["path"] for r in new_rows)


@pytest.mark.parametrize("bad", ["--shard-rows=0", "--workers=0"])
def test_cli_validates_counts(bad, tmp_path) -> None:
    assert _run(tmp_path, "--out", tmp_path / "o", bad).exit_code == 2
