"""``GET /v1/models`` and ``/v1/models/{name}``: manifests and model-card numbers."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool

from audio_detect.exceptions import ModelNotFoundError
from audio_detect.registry import (
    MANIFEST_NAME,
    available_models,
    default_model_name,
    models_root,
    sha256_file,
)

from ..deps import AnyCaller, ServicesDep
from ..schemas import ERROR_RESPONSES, ErrorResponse, ModelDetail, ModelSummary
from ..services import Services

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/models", tags=["models"])
_RESPONSES = {k: ERROR_RESPONSES[k] for k in (401, 403, 429)}


def _summary(path: Path, manifest: dict[str, Any], services: Services, default: str | None) -> dict:
    loaded = services.detector.model
    is_loaded = path.resolve() == loaded.path.resolve()
    return {
        "name": str(manifest.get("name", path.name)),
        "version": str(manifest.get("version", "0")),
        "format": str(manifest.get("format", "")),
        "sample_rate": int(manifest.get("sample_rate", 0)),
        "description": str(manifest.get("description", "")),
        "metrics": manifest.get("metrics") or {},
        "sha256": loaded.sha256 if is_loaded else sha256_file(path / MANIFEST_NAME),
        "loaded": is_loaded,
        "default": path.name == default,
    }


def _catalogue(services: Services) -> dict[str, tuple[Path, dict[str, Any]]]:
    """Models in the models directory plus the loaded one (which may live elsewhere)."""
    root = services.settings.models_dir or models_root()
    out: dict[str, tuple[Path, dict[str, Any]]] = {}
    for name in available_models(root):
        try:
            manifest = json.loads((root / name / MANIFEST_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            logger.warning("skipping model %s: %s", name, exc)
            continue
        out[name] = (root / name, manifest)
    loaded = services.detector.model
    out.setdefault(loaded.name, (loaded.path, loaded.manifest))
    return out


def _default(services: Services) -> str | None:
    try:
        return default_model_name(services.settings.models_dir or models_root())
    except ModelNotFoundError:
        return None


def _list(services: Services) -> list[dict[str, Any]]:
    default = _default(services)
    return [_summary(p, m, services, default) for p, m in _catalogue(services).values()]


def _detail(services: Services, name: str) -> dict[str, Any]:
    catalogue = _catalogue(services)
    if name not in catalogue:
        raise ModelNotFoundError(f"No model named {name!r} (available: {sorted(catalogue)}).")
    path, manifest = catalogue[name]
    card_path = path / "MODEL_CARD.md"
    card = card_path.read_text(encoding="utf-8") if card_path.is_file() else None
    return {**_summary(path, manifest, services, _default(services)), "manifest": manifest,
            "card": card}  # fmt: skip


@router.get("", response_model=list[ModelSummary], responses=_RESPONSES, summary="List models")
async def list_models(services: ServicesDep, _caller: AnyCaller) -> list[dict[str, Any]]:
    """The models directory (unverified manifests) and which model is loaded."""
    return await run_in_threadpool(_list, services)


@router.get(
    "/{name}",
    response_model=ModelDetail,
    responses={**_RESPONSES, 404: {"model": ErrorResponse, "description": "No such model"}},
    summary="One model: manifest and card",
)
async def get_model(
    services: ServicesDep,
    _caller: AnyCaller,
    name: str = PathParam(max_length=200),
) -> dict[str, Any]:
    """Manifest (feature/window config, calibration, thresholds, file hashes) and card."""
    return await run_in_threadpool(_detail, services, name)
