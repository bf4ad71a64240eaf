"""GET /models and /models/{name}: what is served, and each model's card."""

from __future__ import annotations

from fastapi import APIRouter

from service.card import ModelCard
from service.dependencies import RegistryDep
from service.routes.predict import ERRORS
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


# Unset: what the card file leaves out (older cards) stays out, so the answer is the file.
@router.get(
    "/{name}", response_model=ModelCard, response_model_exclude_unset=True, responses=ERRORS
)
async def model_card(name: str, registry: RegistryDep) -> ModelCard:
    """A model's full card from training: layers, hyper-parameters, history, test statistics."""
    return registry.get(name).card
