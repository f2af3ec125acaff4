"""``audio-detect keys``, ``audit`` and ``serve`` (registered on a small typer app here)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
import typer
from typer.testing import CliRunner

from audio_detect_service.cli.audit import audit_app, parse_when
from audio_detect_service.cli.keys import keys_app
from audio_detect_service.cli.serve import serve
from audio_detect_service.security import verify_key
from audio_detect_service.store import Store

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    app.command("serve")(serve)
    app.add_typer(keys_app, name="keys")
    app.add_typer(audit_app, name="audit")
    return app


@pytest.fixture
def db(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def test_keys_create_list_revoke(cli, db, monkeypatch):
    monkeypatch.setenv("AUDIO_DETECT_DATABASE_URL", db)
    runner = CliRunner()
    r = runner.invoke(cli, ["keys", "create", "--name", "ivr", "--scopes", "analyze,read"])
    assert r.exit_code == 0, r.output
    key = r.stdout.strip().splitlines()[-1]
    store = Store(db)
    principal = verify_key(store, key)
    assert principal is not None and principal.scopes == {"analyze", "read"}
    r = runner.invoke(cli, ["keys", "list", "--json"])
    (item,) = [json.loads(line) for line in r.stdout.splitlines()]
    assert item["name"] == "ivr" and item["revoked_at"] is None and key not in r.stdout
    used_at = datetime.now(UTC)
    store.record_key_use(item["id"], uses=3, last_used_at=used_at)
    r = runner.invoke(cli, ["keys", "list", "--json"])
    (again,) = [json.loads(line) for line in r.stdout.splitlines()]
    assert again["use_count"] == item["use_count"] + 3
    assert datetime.fromisoformat(again["last_used_at"]).replace(tzinfo=UTC) >= used_at.replace(
        microsecond=0
    ) - timedelta(seconds=1)
    assert "uses" in runner.invoke(cli, ["keys", "list"]).stdout
    assert runner.invoke(cli, ["keys", "revoke", item["id"]]).exit_code == 0
    assert verify_key(store, key) is None
    assert runner.invoke(cli, ["keys", "revoke", item["id"]]).exit_code != 0
    assert runner.invoke(cli, ["keys", "create", "--name", "x", "--scopes", "root"]).exit_code != 0
    store.close()


def _seed(db: str) -> Store:
    store = Store(db)
    store.migrate()
    rec = {
        "kind": "analyze", "duration": 3.0, "speech_seconds": 2.0, "model_name": "m",
        "model_version": "1", "model_sha256": "0" * 64, "verdict": "spoof", "tier": "high",
        "p_spoof": 0.9, "llr": 2.0, "score": 1.0, "prior": 0.5,
        "thresholds": {"medium": 1, "high": 2}, "timeline": [{"start": 0, "end": 2}],
        "client": {}, "processing_ms": 1.0, "call_id": "c,1",
    }  # fmt: skip
    store.add_decision(rec | {"created_at": datetime.now(UTC) - timedelta(days=45)})
    store.add_decision(rec)
    return store


def test_audit_export_and_purge(cli, db, tmp_path):
    store = _seed(db)
    runner = CliRunner()
    r = runner.invoke(cli, ["audit", "export", "--format", "jsonl", "--database-url", db])
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert r.exit_code == 0 and len(rows) == 2 and rows[0]["timeline"] == [{"start": 0, "end": 2}]
    out = tmp_path / "x.csv"
    r = runner.invoke(cli, ["audit", "export", "--format", "csv", "--since", "30d", "-o", str(out),
                            "--database-url", db])  # fmt: skip
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 1 and rows[0]["call_id"] == "c,1" and json.loads(rows[0]["thresholds"])
    r = runner.invoke(cli, ["audit", "purge", "--older-than", "30d", "--yes", "--database-url", db])
    assert r.exit_code == 0 and json.loads(r.stdout.strip().splitlines()[-1])["decisions"] == 1
    assert len(list(store.iter_decisions())) == 1
    assert runner.invoke(
        cli, ["audit", "export", "--format", "xml", "--database-url", db]
    ).exit_code
    store.close()


def test_parse_when():
    now = datetime(2026, 1, 31, tzinfo=UTC)
    assert parse_when("30d", now=now) == now - timedelta(days=30)
    assert parse_when("12h", now=now) == now - timedelta(hours=12)
    assert parse_when("2026-01-01") == datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(typer.BadParameter):
        parse_when("last week")


def test_serve_runs_uvicorn(cli, monkeypatch, tiny_gmm_dir, tmp_path):
    calls = {}
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.update(app=app, **kw))
    monkeypatch.setenv("AUDIO_DETECT_DATA_DIR", str(tmp_path))
    r = CliRunner().invoke(cli, ["serve", "--port", "8123", "--dev", "--model", str(tiny_gmm_dir)])
    assert r.exit_code == 0, r.output
    assert calls["host"] == "127.0.0.1" and calls["port"] == 8123
    assert calls["app"].state.settings.dev_mode is True
    assert calls["ws_per_message_deflate"] is False  # AUDIO_DETECT_WS_COMPRESSION's default
    monkeypatch.setenv("AUDIO_DETECT_WS_COMPRESSION", "true")
    r = CliRunner().invoke(cli, ["serve", "--dev", "--model", str(tiny_gmm_dir)])
    assert r.exit_code == 0, r.output
    assert calls["ws_per_message_deflate"] is True
    r = CliRunner().invoke(cli, ["serve", "--dev", "--host", "0.0.0.0"])
    assert r.exit_code != 0
