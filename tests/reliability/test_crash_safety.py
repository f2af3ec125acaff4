"""``kill -9`` under load loses no acknowledged decision and duplicates none (short round).

The long version with several rounds per store is ``benchmarks/crash_safety.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from local_server import LocalServer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from crash_safety import crash_round

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _stores() -> list:
    import os

    pg = os.environ.get("AUDIO_DETECT_TEST_POSTGRES_URL")
    return [
        pytest.param(None, id="sqlite"),
        pytest.param(pg, id="postgresql", marks=pytest.mark.requires("postgresql")),
    ]  # fmt: skip


@pytest.mark.parametrize("database_url", _stores())
def test_kill_9_loses_no_acknowledged_decision(tiny_gmm_dir, tmp_path, database_url):
    server = LocalServer(tiny_gmm_dir, tmp_path, database_url=database_url,
                         settings={"max_queued_scoring": 16})  # fmt: skip
    server.start()
    try:
        # The restart (and the check through the API) once, on SQLite; PostgreSQL is
        # checked in the store only, to keep the suite fast.
        result = crash_round(server, clients=3, kill_after=8, deadline_s=60,
                             restart=database_url is None)  # fmt: skip
    finally:
        server.stop()
    assert result["acked"] >= 8, result
    assert result["missing"] == [] and result["api_missing"] == [], result
    assert result["duplicates"] == [], result
    assert server.starts == (2 if database_url is None else 1)
