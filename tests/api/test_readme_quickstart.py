"""The README's quick start, as written: its curl lines show a genuine call and a caught clone."""

from __future__ import annotations

import re
from pathlib import Path

from api_helpers import LOCAL
from fastapi.testclient import TestClient

from audio_detect_service.main import create_app
from audio_detect_service.settings import Settings

REPO = Path(__file__).resolve().parents[2]
CURL = re.compile(
    r"^curl -s -F file=@(\S+) http://127\.0\.0\.1:8000(/v1/analyze)\n"
    r"#.*\"verdict\":\"(\w+)\",\"tier\":\"(\w+)\"",
    re.M,
)


def test_readme_curl_lines_show_a_genuine_call_and_a_caught_clone(tmp_path):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("## What it does")[0]
    calls = CURL.findall(quick_start)
    assert len(calls) >= 2, "the quick start should curl a genuine call and a clone"
    # `make run` = `audio-detect serve --dev` on the default model.
    settings = Settings(_env_file=None, dev_mode=True, database_url=f"sqlite:///{tmp_path}/a.db")
    verdicts = []
    with TestClient(create_app(settings), client=LOCAL) as client:
        for rel, route, said_verdict, said_tier in calls:
            path = REPO / rel
            assert path.is_file(), rel
            r = client.post(route, files={"file": (path.name, path.read_bytes())})
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["model"]["name"] == "whisper-cm-8k"  # the shipped default
            verdicts.append((rel, body["verdict"], body["tier"]))
            # the comment under each curl line says what it returns: keep it true
            assert (body["verdict"], body["tier"]) == (said_verdict, said_tier), rel
    assert ("tests/fixtures/audio/bonafide_8k_hts1a.flac", "bonafide", "low") in verdicts
    assert any(v == "spoof" and t != "low" for _, v, t in verdicts), verdicts
