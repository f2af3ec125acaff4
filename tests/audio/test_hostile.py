"""Hostile input: every fixture of tests/fixtures/hostile/ yields exactly its expected outcome.

The fixtures and ``index.json`` are written by ``tests/fixtures/make_hostile.py``.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audio_detect import exceptions
from audio_detect.audio.io import load_audio
from audio_detect.exceptions import AudioDetectError

HOSTILE = Path(__file__).resolve().parents[1] / "fixtures" / "hostile"
INDEX = json.loads((HOSTILE / "index.json").read_text())
BOMBS = sorted(name for name in INDEX if name.startswith("bomb_"))


def test_index_matches_folder():
    on_disk = {p.name for p in HOSTILE.iterdir()} - {"index.json"}
    assert on_disk == set(INDEX)
    assert len(INDEX) >= 40
    assert sum(p.stat().st_size for p in HOSTILE.iterdir()) < 1.5 * 2**20
    outcomes = {spec["expect"] for spec in INDEX.values()}
    assert {"ok", "AudioDecodeError", "AudioTooLongError", "AudioTooShortError"} <= outcomes
    for spec in INDEX.values():
        assert spec["expect"] == "ok" or issubclass(
            getattr(exceptions, spec["expect"]), AudioDetectError
        )


def _outcome(source, max_seconds: float) -> tuple[str, object]:
    try:
        audio = load_audio(source, max_seconds=max_seconds)
    except AudioDetectError as exc:
        return type(exc).__name__, exc
    return "ok", audio


@pytest.mark.parametrize("name", sorted(INDEX))
@pytest.mark.parametrize("kind", ["path", "bytes", "fileobj"])
def test_hostile_fixture(name, kind):
    spec = INDEX[name]
    path = HOSTILE / name
    source = {
        "path": lambda: path,
        "bytes": path.read_bytes,
        "fileobj": lambda: io.BytesIO(path.read_bytes()),
    }[kind]()
    got, result = _outcome(source, spec["max_seconds"])  # anything else escapes and fails
    expect = spec["expect"]
    if expect == "ok":
        assert got == "ok", f"{name}: {spec['note']}: raised {got}: {result}"
        samples = result.samples
        assert samples.dtype == np.float32 and samples.ndim == 1 and samples.size > 0
        assert np.all(np.isfinite(samples)) and np.all(np.abs(samples) <= 1.0)
    else:
        assert got != "ok", f"{name}: {spec['note']}: decoded instead of raising {expect}"
        assert isinstance(result, getattr(exceptions, expect)), (
            f"{name}: {spec['note']}: expected {expect}, got {got}: {result}"
        )
        assert str(result)  # every error carries a message


def test_bombs_stay_bounded_in_a_subprocess():
    """Decompression bombs stop at max_seconds with bounded memory and never hang."""
    script = textwrap.dedent(
        f"""
        import sys, time
        from audio_detect.audio.io import load_audio
        from audio_detect.exceptions import AudioTooLongError
        for name in {BOMBS!r}:
            for sr in (None, 16000):
                t0 = time.monotonic()
                try:
                    load_audio({str(HOSTILE)!r} + "/" + name, sr=sr, max_seconds=600)
                except AudioTooLongError:
                    pass
                else:
                    sys.exit(f"{{name}} decoded without AudioTooLongError")
                print(name, sr, round(time.monotonic() - t0, 2))
        # VmHWM is this process image's peak RSS; getrusage's ru_maxrss would also count
        # the parent's pages the child had before execve (Linux keeps it across exec).
        hwm = next(ln for ln in open("/proc/self/status") if ln.startswith("VmHWM:"))
        print("maxrss_kb", hwm.split()[1])
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    rss_mb = int(proc.stdout.split("maxrss_kb")[1]) / 1024
    assert rss_mb < 400, proc.stdout


VALID = {
    name: (HOSTILE / name).read_bytes()
    for name in ("flac_named.wav", "mp3_named.flac", "ogg_named.mp3", "m4a_named.wav",
                 "gsm610.wav")
}  # fmt: skip


def _check_bytes(data: bytes) -> None:
    try:
        audio = load_audio(data, max_seconds=60)
    except AudioDetectError:
        return
    assert np.all(np.isfinite(audio.samples)) and np.all(np.abs(audio.samples) <= 1.0)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_raise_only_typed_errors(data):
    _check_bytes(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(VALID)),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=12),
    st.integers(0, 10**6),
)
def test_mutated_valid_files_raise_only_typed_errors(name, edits, cut):
    data = bytearray(VALID[name])
    for pos, value in edits:
        data[pos % len(data)] = value
    _check_bytes(bytes(data[: max(1, cut % (len(data) + 1))]))
