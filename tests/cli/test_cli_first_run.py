"""The first ten minutes with the CLI: help, errors a user can act on, one JSON shape, the demo."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from audio_detect.cli import EXAMPLES, app

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _commands() -> list[tuple[str, Any]]:
    root = get_command(app)
    out: list[tuple[str, Any]] = []

    def walk(prefix: str, cmd: Any) -> None:
        subcommands = getattr(cmd, "commands", None)  # a group (Typer may vendor click)
        if subcommands:
            for name, sub in subcommands.items():
                walk(f"{prefix} {name}".strip(), sub)
        else:
            out.append((prefix, cmd))

    walk("", root)
    return out


def test_every_command_has_an_example():
    names = {name for name, _ in _commands()}
    assert names == set(EXAMPLES), "EXAMPLES must list exactly the commands"
    for name, cmd in _commands():
        assert cmd.epilog and cmd.epilog.startswith("Example: audio-detect " + name), name


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_help_renders_flags_as_flags(name):
    res = runner.invoke(app, [*name.split(), "--help"], env={"COLUMNS": "160"})
    assert res.exit_code == 0, res.output
    text = res.output
    assert "<bool>" not in text and "<list[" not in text, text
    assert "Example: audio-detect " + name in text
    # Options that take a value keep their type.
    if name == "score":
        assert re.search(r"--json\s+Print", text), text
        assert re.search(r"--model\s+<str>", text), text


def _score_json(args: list[str], model: Path) -> tuple[int, list[dict]]:
    res = runner.invoke(app, ["score", *args, "--model", str(model), "--json"])
    rows = json.loads(res.stdout)
    return res.exit_code, rows


def test_score_json_is_always_a_list(tiny_gmm_dir, fixture_audio):
    one = str(next(iter(fixture_audio.values())))
    code, rows = _score_json([one], tiny_gmm_dir)
    assert code == 0 and isinstance(rows, list) and len(rows) == 1
    assert rows[0]["file"] == one and "verdict" in rows[0]


def test_each_bad_input_has_its_own_code_and_one_sentence(tiny_gmm_dir, tmp_path):
    text = tmp_path / "README.md"
    text.write_text("# audio-detect\n\nNot a recording.\n" * 10)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    folder = tmp_path / "calls"
    folder.mkdir()
    missing = tmp_path / "missing.wav"
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt ")
    files = [text, empty, folder, missing, truncated]
    code, rows = _score_json([str(p) for p in files], tiny_gmm_dir)
    assert code == 1
    errors = {Path(r["file"]).name: r["error"] for r in rows}
    assert {k: v["code"] for k, v in errors.items()} == {
        "README.md": "not_audio",
        "empty.wav": "empty_input",
        "calls": "not_a_file",
        "missing.wav": "file_not_found",
        "truncated.wav": "audio_decode_error",
    }
    assert errors["README.md"]["message"] == (
        f"{text} is not an audio file (no known audio format detected)."
    )
    for f, err in zip(files, (errors[p.name] for p in files), strict=True):
        msg = err["message"]
        assert msg.startswith(str(f)), msg  # names the user's file
        assert msg.count(". ") == 0 and msg.endswith("."), msg  # one sentence
        assert "0x" not in msg and "soundfile" not in msg and "FFmpeg" not in msg, msg


def test_table_view_prints_the_error_message(tiny_gmm_dir, tmp_path):
    text = tmp_path / "README.md"
    text.write_text("plain text\n" * 50)
    res = runner.invoke(app, ["score", str(text), "--model", str(tiny_gmm_dir)])
    assert res.exit_code == 1
    out = " ".join(res.output.split())  # undo rich's wrapping
    assert "[not_audio]" in out and "is not an audio file (no known audio format detected)" in out
    assert "1 of 1 file(s) could not be scored" in out


def test_table_view_says_what_the_score_means(tiny_gmm_dir, fixture_audio):
    res = runner.invoke(
        app, ["score", str(next(iter(fixture_audio.values()))), "--model", str(tiny_gmm_dir)]
    )
    assert res.exit_code == 0, res.output
    out = " ".join(res.output.split())
    assert "one risk signal" in out and "MODEL_CARD.md" in out


def test_demo_clips_show_a_caught_clone_and_a_passed_genuine_call():
    """`make run` (the default model on the bundled clips) shows the model right and wrong."""
    clips = sorted((REPO / "tests" / "fixtures" / "audio").glob("*.flac"))
    clips += sorted((REPO / "examples" / "audio").glob("*.flac"))
    res = runner.invoke(app, ["score", *map(str, clips), "--json"])
    assert res.exit_code == 0, res.output
    rows = {Path(r["file"]).name: r for r in json.loads(res.stdout)}
    caught = [n for n, r in rows.items() if n.startswith("spoof") and r["verdict"] == "spoof"]
    passed = [n for n, r in rows.items() if n.startswith("bonafide") and r["verdict"] == "bonafide"]
    missed = [n for n, r in rows.items() if n.startswith("spoof") and r["verdict"] == "bonafide"]
    assert caught and passed, rows
    assert rows["spoof_asvspoof2019_A09_LA_E_6163791.flac"]["tier"] != "low"
    assert rows["bonafide_8k_hts1a.flac"]["tier"] == "low"  # the README's curl example
    # The demo README's table states each clip's verdict / tier; keep it honest.
    readme = (REPO / "examples" / "audio" / "README.md").read_text(encoding="utf-8")
    stated = {
        m["name"]: (m["verdict"], m["tier"])
        for m in re.finditer(
            r"^\| `(?:\S+/)?(?P<name>[^/`]+\.flac)` \|[^|]*\| \**(?P<verdict>\w+) / (?P<tier>\w+)",
            readme,
            re.M,
        )
    }
    for name in caught + passed + missed:
        assert stated.get(name) == (rows[name]["verdict"], rows[name]["tier"]), name


def test_evaluate_lists_every_failed_trial(tiny_gmm_dir, fixture_audio, tmp_path):
    lines = ["path,label,system"]
    for stem, path in fixture_audio.items():
        shutil.copy(path, tmp_path / path.name)
        label = "fake" if stem.startswith("spoof") else "real"
        lines.append(f"{path.name},{label},{'x' if label == 'fake' else ''}")
    (tmp_path / "notes.wav").write_text("not a recording\n" * 40)
    lines += ["notes.wav,real,", "gone.wav,fake,x"]
    (tmp_path / "trials.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "m.json"
    res = runner.invoke(
        app,
        [
            "evaluate", "--manifest", str(tmp_path / "trials.csv"), "--model", str(tiny_gmm_dir),
            "--json-out", str(out),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    printed = " ".join(res.stdout.split())
    assert "failed: 2" in printed and "2 trial(s) not scored" in printed
    assert "notes.wav" in printed and "not_audio" in printed
    assert "gone.wav" in printed and "file_not_found" in printed
    failed = {Path(f["path"]).name: f for f in json.loads(out.read_text())["failed"]}
    assert set(failed) == {"notes.wav", "gone.wav"}
    assert failed["notes.wav"]["code"] == "not_audio"
    assert failed["notes.wav"]["message"].endswith(
        "is not an audio file (no known audio format detected)."
    )
    assert failed["gone.wav"]["code"] == "file_not_found"


def test_too_long_has_its_own_code_and_names_the_file(tiny_gmm_dir, fixture_audio):
    clip = str(next(iter(fixture_audio.values())))
    res = runner.invoke(
        app, ["score", clip, "--model", str(tiny_gmm_dir), "--json", "--max-seconds", "0.5"]
    )
    assert res.exit_code == 1
    (row,) = json.loads(res.stdout)
    assert row["error"]["code"] == "audio_too_long"
    assert row["error"]["message"].startswith(f"{clip} is longer than max_seconds=0.5")
