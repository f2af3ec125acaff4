"""The service's commands reach ``audio-detect`` through entry points, not imports (issue #18)."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from audio_detect.cli import (
    COMMAND_GROUP,
    SERVICE_COMMANDS,
    build_app,
    discover_commands,
)

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


def test_the_service_commands_are_installed_entry_points():
    found = discover_commands()
    assert set(SERVICE_COMMANDS) <= set(found)
    assert callable(found["serve"]) and not isinstance(found["serve"], str)
    assert isinstance(found["keys"], typer.Typer) and isinstance(found["audit"], typer.Typer)
    assert found["serve"].__module__ == "audio_detect_service.cli.serve"


@pytest.mark.parametrize(
    "args", [["serve", "--dev", "--port", "8123"], ["keys", "list", "--json"], ["audit", "export"]]
)
def test_without_the_service_a_command_names_the_api_extra_and_exits_2(args):
    app = build_app(discover_commands(found=[]))
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert "pip install 'audio-detect[api]'" in text and "not installed" in text, text


def test_a_broken_service_entry_point_says_why():
    broken = EntryPoint(name="serve", value="audio_detect_service.nope:serve", group=COMMAND_GROUP)
    app = build_app(discover_commands(found=[broken]))
    res = runner.invoke(app, ["serve"])
    assert res.exit_code == 2
    text = " ".join(res.output.split())
    assert "audio-detect[api]" in text and "audio_detect_service.nope" in text, text


def test_an_extra_entry_point_is_added_after_the_library_commands():
    def hello() -> None:
        """Say hello."""
        typer.echo("hello")

    plugins = {**discover_commands(), "hello": hello}
    app = build_app(plugins)
    assert runner.invoke(app, ["hello"]).stdout == "hello\n"
    names = [c.name for c in app.registered_commands] + [g.name for g in app.registered_groups]
    assert "hello" in names and "serve" in names


def test_serve_without_the_api_extra_names_it_and_exits_2(monkeypatch):
    from audio_detect.cli import app

    monkeypatch.setitem(sys.modules, "uvicorn", None)  # not importable
    res = runner.invoke(app, ["serve", "--dev"])
    assert res.exit_code == 2
    assert "pip install 'audio-detect[api]'" in " ".join(res.output.split())


def test_the_library_cli_does_not_import_the_service():
    code = (
        "import json, sys\n"
        "import audio_detect.cli\n"
        "before = sorted(m for m in sys.modules if m.startswith('audio_detect_service'))\n"
        "audio_detect.cli.app\n"
        "after = sorted(m for m in sys.modules if m.startswith('audio_detect_service'))\n"
        "print(json.dumps({'before': before, 'after': after,\n"
        "                  'fastapi': 'fastapi' in sys.modules, 'api': 'api' in sys.modules}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert info["before"] == []  # importing the CLI package loads no service module
    # Building the app loads only the service's command modules (typer), not the service.
    assert all(m.startswith("audio_detect_service.cli") or m == "audio_detect_service"
               for m in info["after"]), info  # fmt: skip
    assert not info["fastapi"] and not info["api"]
