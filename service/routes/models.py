"""GET /models and /models/{name}: what is served, and each model's card."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from service.dependencies import RegistryDep
from service.routes.predict import ERRORS, select_model
from service.schemas import ModelList, ModelSummary

router = APIRouter(prefix="/models", tags=["models"])


@router.get("", response_model=ModelList)
async def list_models(registry: RegistryDep) -> ModelList:
    """Every served model: architecture, parameters, input length, test accuracy, sha256."""
    return ModelList(
        default=registry.default_name,
        models=[
            ModelSummary(**m.summary(m.name == registry.default_name))
            for m in registry.models.values()
        ],
    )


@router.get("/{name}", responses=ERRORS)
async def model_card(name: str, registry: RegistryDep) -> dict[str, Any]:
    """A model's full card from training: layers, hyper-parameters, history, test statistics."""
    return select_model(registry, name).card
