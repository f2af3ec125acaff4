"""``audio-detect export --trained-by``: an unreadable manifest is a clean exit 2, no output."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")

import typer
from typer.testing import CliRunner

from audio_detect.cli.train import export

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read --trained-by"),  # missing file
        ("{not json", "cannot read --trained-by"),
        ("[1, 2]", "cannot read --trained-by"),  # not an object
        ('{"training": [1]}', "'training' is not an object"),
    ],
)
def test_bad_trained_by_is_refused(tmp_path: Path, content: str | None, message: str) -> None:
    checkpoint = tmp_path / "best.safetensors"
    checkpoint.write_bytes(b"not read: the manifest is checked first")
    trained_by = tmp_path / "manifest.json"
    if content is not None:
        trained_by.write_text(content, encoding="utf-8")
    out = tmp_path / "model"
    app = typer.Typer()
    app.command()(export)
    result = CliRunner().invoke(
        app,
        [
            "--config", str(REPO / "configs" / "tiny_ci.json"),
            "--checkpoint", str(checkpoint),
            "--trained-by", str(trained_by),
            "--out", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert not out.exists()
