"""A built wheel works outside the repository (issue #18, "a wheel that works").

Builds the sdist and the wheel (``python -m build --no-isolation``, the wheel made from
the sdist, as a release would; ``pip wheel`` when the ``build`` package is absent),
installs the wheel with ``--no-deps --no-index`` into a fresh venv that sees this
environment's installed dependencies (a ``.pth`` line, not ``--system-site-packages``:
the dependencies live in this venv, not in the base interpreter), then, from a
directory outside the checkout and with no ``AUDIO_DETECT_*`` variable set:

* ``audio_detect`` and ``audio_detect_service`` (the service, source directory ``api/``)
  are imported from the new venv, not the source tree, and no package ``api`` exists;
* the default model is found in the wheel (``audio_detect/_models``) and verified;
* ``audio-detect score <fixture> --json`` scores a clip with it;
* the service app starts and ``POST /v1/analyze`` answers with the default model;
* ``$AUDIO_DETECT_MODELS_DIR`` still overrides the packaged models.

No network: the build backend, pip and every dependency come from this environment.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "tests" / "fixtures" / "audio" / "bonafide_8k_hts1a.flac"

pytestmark = pytest.mark.slow


def _run(cmd: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600):
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{cmd}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Build from a copy of what a source distribution needs: the checkout stays clean
    # (no build/, dist/ or egg-info from this test).
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "_models")
    for name in ("audio_detect", "api", "models"):
        shutil.copytree(REPO / name, src / name, ignore=skip)
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE"):
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, src / name)
    dist = work / "dist"
    if importlib.util.find_spec("build") is not None:
        # --skip-dependency-check: pyproject still lists "wheel", which setuptools >= 70.1
        # no longer needs (it has its own bdist_wheel) and this venv may not have.
        cmd = [sys.executable, "-m", "build", "--no-isolation", "--skip-dependency-check",
               "--outdir", str(dist), str(src)]  # fmt: skip
    else:
        cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
               "--no-index", "-w", str(dist), str(src)]  # fmt: skip
    _run(cmd, cwd=work)
    (whl,) = dist.glob("audio_detect-*.whl")
    return whl


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    env_dir = tmp_path_factory.mktemp("venv") / "v"
    _run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], cwd=env_dir.parent)
    py = env_dir / "bin" / "python"
    purelib = _run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        cwd=env_dir.parent,
    ).stdout.strip()
    # This environment's dependencies, after the venv's own site-packages. A plain path
    # line: the .pth files there (this checkout's editable install) are not processed.
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(purelib, "_audio_detect_test_deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    _run(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index",
         "--no-cache-dir", "--disable-pip-version-check", str(wheel)],
        cwd=env_dir.parent,
    )  # fmt: skip
    return env_dir


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDIO_DETECT_")}
    env.pop("PYTHONPATH", None)
    return env


def test_wheel_ships_the_models_it_pins(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    default = (REPO / "models" / "DEFAULT").read_text().strip()
    assert "audio_detect/_models/DEFAULT" in names
    manifest = json.loads((REPO / "models" / default / "manifest.json").read_text())
    for fname in ["manifest.json", *manifest["files"]]:
        assert f"audio_detect/_models/{default}/{fname}" in names
    assert "audio_detect_service/main.py" in names and "audio_detect/spec.py" in names
    assert "audio_detect_service/static/console/index.html" in names
    assert "audio_detect_service/store/migrations/script.py.mako" in names
    assert not any(n.startswith(("tests/", "models/", "api/")) for n in names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[audio_detect.commands]" in text
    assert "serve = audio_detect_service.cli.serve:serve" in text


def test_installed_wheel_scores_and_serves_with_the_default_model(
    venv: Path, tmp_path: Path
) -> None:
    py = str(venv / "bin" / "python")
    env = _clean_env()
    probe = _run(
        [py, "-c",
         "import importlib.util, json, audio_detect, audio_detect_service\n"
         "from audio_detect.registry import models_root, load_model_dir\n"
         "m = load_model_dir()\n"
         "print(json.dumps({'lib': audio_detect.__file__,\n"
         "                  'api': audio_detect_service.__file__,\n"
         "                  'no_api': importlib.util.find_spec('api') is None,\n"
         "                  'root': str(models_root()), 'model': m.name}))\n"],
        cwd=tmp_path, env=env,
    )  # fmt: skip
    info = json.loads(probe.stdout.strip().splitlines()[-1])
    assert info["lib"].startswith(str(venv)) and info["api"].startswith(str(venv))
    assert info["no_api"], "the wheel must not install a top-level package named api"
    assert info["root"].startswith(str(venv)) and info["root"].endswith("_models")
    default = (REPO / "models" / "DEFAULT").read_text().strip()
    assert info["model"] == default

    clip = tmp_path / CLIP.name
    shutil.copyfile(CLIP, clip)
    scored = _run([str(venv / "bin" / "audio-detect"), "score", str(clip), "--json"],
                  cwd=tmp_path, env=env)  # fmt: skip
    start = scored.stdout.index("[") if scored.stdout.lstrip().startswith("[") else None
    body = json.loads(scored.stdout[start:] if start is not None else scored.stdout)
    result = body[0] if isinstance(body, list) else body
    assert result["model"]["name"] == default
    assert result["verdict"] in ("bonafide", "spoof", "not_enough_speech")
    # The service's commands come from the wheel's audio_detect.commands entry points.
    helped = _run([str(venv / "bin" / "audio-detect"), "serve", "--help"], cwd=tmp_path,
                  env=env | {"COLUMNS": "160"})  # fmt: skip
    assert "--workers" in helped.stdout and "Example: audio-detect serve" in helped.stdout

    served = _run(
        [py, "-c",
         "import json, sys\n"
         "from fastapi.testclient import TestClient\n"
         "from audio_detect_service.main import create_app\n"
         "from audio_detect_service.settings import Settings\n"
         "s = Settings(_env_file=None, dev_mode=True, database_url='sqlite:///' + sys.argv[2])\n"
         "with TestClient(create_app(s), client=('127.0.0.1', 5000)) as c:\n"
         "    r = c.post('/v1/analyze', files={'file': open(sys.argv[1], 'rb')})\n"
         "    print(json.dumps({'status': r.status_code, 'body': r.json()}))\n",
         str(clip), str(tmp_path / "audit.db")],
        cwd=tmp_path, env=env,
    )  # fmt: skip
    answer = json.loads(served.stdout.strip().splitlines()[-1])
    assert answer["status"] == 200, answer
    assert answer["body"]["model"]["name"] == default


def test_models_dir_override_still_wins(venv: Path, tmp_path: Path) -> None:
    root = tmp_path / "models"
    shutil.copytree(REPO / "models" / "lfcc-gmm-8k", root / "lfcc-gmm-8k")
    env = _clean_env() | {"AUDIO_DETECT_MODELS_DIR": str(root)}
    out = _run(
        [str(venv / "bin" / "python"), "-c",
         "from audio_detect.registry import load_model_dir, models_root\n"
         "print(models_root(), load_model_dir().name)"],
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert out.stdout.split() == [str(root), "lfcc-gmm-8k"]
