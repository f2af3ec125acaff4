"""Classic-model branch of ``audio-detect train`` (LFCC-GMM)."""

from __future__ import annotations

import json
from pathlib import Path

from ..training.classic import ClassicConfig, train_classic
from ._common import console, stage_progress

CLASSIC_MODELS = ("lfcc_gmm",)


def is_classic_config(path: Path) -> bool:
    """True when the JSON config names a classic model (``"model": "lfcc_gmm"``)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return isinstance(data, dict) and data.get("model") in CLASSIC_MODELS


def run_classic(config: Path, *, manifest: Path | None, out: Path | None, workers: int) -> None:
    """Train a classic model from ``config`` and print where it went."""
    cfg = ClassicConfig.from_json(config)
    out_dir = out or Path("models") / cfg.name
    with stage_progress() as progress:
        doc = train_classic(
            cfg, out_dir=out_dir, manifest_path=manifest, workers=workers, progress=progress
        )
    console.print(f"wrote {out_dir} ({doc['training']['wall_seconds']} s)")
