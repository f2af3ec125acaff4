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
        "from api.main import create_app\n"
        "from audio_detect.detector import Detector\n"
        "Detector.load('whisper-cm-8k').score_samples(__import__('numpy').zeros(8000))\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
