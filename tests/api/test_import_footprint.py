"""The service process does not load the training/offline stack it never uses.

scikit-learn (with pandas and pyarrow), librosa and torch add well over 100 MB of RSS
to a server that scores an ONNX model; they are imported lazily where needed (GMM
models, the console's spectrogram, training).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("sklearn", "pandas", "pyarrow", "librosa", "torch", "numba")


def test_serving_imports_stay_light() -> None:
    code = (
        "import json, sys\n"
        "from audio_detect_service.main import create_app\n"
        "from audio_detect.detector import Detector\n"
        "Detector.load('whisper-cm-8k').score_samples(__import__('numpy').zeros(8000))\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_the_service_imports_as_audio_detect_service_never_as_api(tmp_path: Path) -> None:
    """Its source directory is ``api/``, but nothing named ``api`` is installed or imported."""
    code = (
        "import importlib.util, json, sys\n"
        "import audio_detect_service.main, audio_detect_service.cli.serve\n"
        "from audio_detect_service.store import Store\n"
        "Store('sqlite:///' + sys.argv[1]).migrate()  # alembic runs migrations/env.py\n"
        "print(json.dumps({'loaded': [m for m in sys.modules if m == 'api' or\n"
        "                             m.startswith('api.')],\n"
        "                  'findable': importlib.util.find_spec('api') is not None,\n"
        "                  'file': audio_detect_service.main.__file__}))\n"
    )
    # From the checkout (where a directory api/ is on sys.path) and from elsewhere.
    for cwd in (REPO, tmp_path):
        out = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path / f"{cwd.name}.db")],
            cwd=cwd, capture_output=True, text=True, check=True,
        )  # fmt: skip
        info = json.loads(out.stdout.strip().splitlines()[-1])
        assert info["loaded"] == [], (cwd, info)
        assert Path(info["file"]).parent.name == "api"
    assert not info["findable"], "a top-level package named api is installed"
