"""``GET /v1/models`` and ``/v1/models/{name}``: manifests and model-card numbers.

Each model is read through the registry (:func:`audio_detect.registry.list_model_dirs`):
its manifest parsed into a :class:`~audio_detect.spec.ModelSpec` (a contradictory one
is left out of the listing), its files not hashed (only the loaded model is verified).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool

from audio_detect.exceptions import ModelNotFoundError
from audio_detect.registry import ModelDir, default_model_name, list_model_dirs, models_root

from ..deps import AnyCaller, ServicesDep
from ..schemas import ERROR_RESPONSES, ErrorResponse, ModelDetail, ModelSummary
from ..services import Services

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/models", tags=["models"])
_RESPONSES = {k: ERROR_RESPONSES[k] for k in (401, 403, 429)}


def _summary(model: ModelDir, services: Services, default: str | None) -> dict:
    loaded = services.detector.model
    is_loaded = model.path.resolve() == loaded.path.resolve()
    return {
        "name": model.name,
        "version": model.version,
        "format": model.format,
        "sample_rate": model.model_rate,
        "description": model.spec.description,
        "metrics": model.manifest.get("metrics") or {},
        "sha256": loaded.sha256 if is_loaded else model.sha256,
        "loaded": is_loaded,
        "default": model.path.name == default,
    }


def catalogue(services: Services) -> dict[str, ModelDir]:
    """Models in the models directory plus the loaded one (which may live elsewhere)."""
    out = list_model_dirs(services.settings.models_dir or models_root())
    loaded = services.detector.model
    out.setdefault(loaded.name, loaded)
    return out


def _default(services: Services) -> str | None:
    try:
        return default_model_name(services.settings.models_dir or models_root())
    except ModelNotFoundError:
        return None


def _list(services: Services) -> list[dict[str, Any]]:
    default = _default(services)
    return [_summary(m, services, default) for m in catalogue(services).values()]


def _detail(services: Services, name: str) -> dict[str, Any]:
    models = catalogue(services)
    if name not in models:
        raise ModelNotFoundError(f"No model named {name!r} (available: {sorted(models)}).")
    model = models[name]
    card_path = model.path / "MODEL_CARD.md"
    card = card_path.read_text(encoding="utf-8") if card_path.is_file() else None
    return {**_summary(model, services, _default(services)), "manifest": model.manifest,
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
