"""The service's settings: one pydantic-settings class, read from `SENTIMENT_*` variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_MODELS = Path(__file__).resolve().parents[1] / "models"


class Settings(BaseSettings):
    """Every knob of the service; each field's docstring is its documentation."""

    model_config = SettingsConfigDict(env_prefix="SENTIMENT_", extra="ignore")

    models_dir: Path = REPO_MODELS
    """Folder with `manifest.json`, the word index and one sub-folder per model."""
    default_model: str = "rnn2"
    """Model used when a request names none."""
    max_text_chars: int = Field(100_000, gt=0)
    """Longest accepted review, in characters (longer: 413)."""
    max_batch_texts: int = Field(1_000, gt=0)
    """Most texts in one batch request (more: 422)."""
    max_body_bytes: int = Field(10 * 1024 * 1024, gt=0)
    """Largest accepted request body; refused with 413 before it is read in full."""
    ort_threads: int = Field(1, gt=0)
    """onnxruntime intra-op threads per model; the models are tiny: one avoids thread hand-offs."""
    golden_tolerance: float = Field(1e-5, gt=0)
    """Largest allowed |served score - Keras score| on each model's golden reviews at startup."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    """Log level of the service and uvicorn."""

    host: str = Field("127.0.0.1", validation_alias=AliasChoices("SENTIMENT_HOST", "HOST"))
    """Address to listen on (`HOST`, as uvicorn's own convention)."""
    port: int = Field(8000, ge=0, le=65535, validation_alias=AliasChoices("SENTIMENT_PORT", "PORT"))
    """Port to listen on (`PORT`)."""
    workers: int = Field(
        1, gt=0, validation_alias=AliasChoices("SENTIMENT_WORKERS", "WEB_CONCURRENCY")
    )
    """Worker processes (`WEB_CONCURRENCY`, uvicorn's own convention)."""

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_log_level(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


@lru_cache
def get_settings() -> Settings:
    return Settings()
