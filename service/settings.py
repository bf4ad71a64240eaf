"""The service's settings: one pydantic-settings class, read from `SENTIMENT_*` variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.schemas import MAX_BATCH_TEXTS
from service.turns import DEFAULT_FLUSH_INTERVAL_S

REPO_MODELS = Path(__file__).resolve().parents[1] / "models"
KEEP_ALIVE_SECONDS = 5
"""uvicorn closes a keep-alive connection idle this long (its default, set explicitly)."""


class Settings(BaseSettings):
    """Every knob of the service; each field's docstring is its documentation."""

    model_config = SettingsConfigDict(
        env_prefix="SENTIMENT_",
        extra="ignore",
        use_attribute_docstrings=True,  # the docstrings are `python -m service --help`'s text
        populate_by_name=True,  # Settings(workers=2), not only WEB_CONCURRENCY=2
    )

    models_dir: Path = REPO_MODELS
    """Folder with `manifest.json`, the word index and one sub-folder per model."""
    default_model: str = "ngram"
    """Model used when a request names none (ngram: the most accurate on the IMDB test set within
    3x rnn2's single-review latency, see docs/short_text.md)."""
    max_text_chars: int = Field(100_000, gt=0)
    """Longest accepted review, in characters (longer: 413)."""
    max_batch_texts: int = Field(1_000, gt=0, le=MAX_BATCH_TEXTS)
    """Most texts in one batch request (more: 422); at most the schema's own cap (1,000), which
    stops validation of a longer list at its first item."""
    max_encoder_batch_texts: int = Field(64, gt=0)
    """Most texts in one request that a model reading WordPiece tokens scores (minilm, about 25
    ms a review; /compare counts, as it scores every model): a 1,000-text batch would hold the
    worker's CPU queue for 25 s, and every other request behind it."""
    max_body_bytes: int = Field(10 * 1024 * 1024, gt=0)
    """Largest accepted request body; refused with 413 before it is read in full."""
    ort_threads: int = Field(1, gt=0)
    """onnxruntime intra-op threads per model; the models are tiny: one avoids thread hand-offs."""
    golden_tolerance: float = Field(1e-5, gt=0)
    """Largest allowed |served score - Keras score| on each model's golden reviews at startup."""
    batch_max_size: int = Field(32, gt=0)
    """Most single-review requests scored together in one onnxruntime call."""
    batch_max_delay_ms: float = Field(0.0, ge=0)
    """How long a request may wait for others to join its batch; 0: only those already there."""
    fast_path: bool = True
    """Answer plain POST /predict requests below FastAPI's routing (middleware/fastpath.py)."""
    admission_control: bool = True
    """Refuse work (503 with Retry-After) while a standing queue waits past the target
    (service/admission.py); off: every request is queued, however long the wait."""
    admission_target_ms: float = Field(100.0, gt=0)
    """Queueing delay a single review may see before it starts being scored, under a standing
    queue."""
    admission_batch_target_ms: float = Field(1000.0, gt=0)
    """The same for heavy work (batches, compare, explain, v2 infer), which runs one job at a
    time: a client that sends hundreds of reviews at once expects to wait for a few such jobs.
    That queue's wait is predicted: work that would not finish within it is refused at once."""
    admission_interval_ms: float = Field(100.0, gt=0)
    """How long every request must wait past the target before refusals start (a burst that
    drains sooner is admitted whole); the heavy-work queue, whose wait is predicted, needs no
    such evidence."""
    max_in_flight: int = Field(4096, gt=0)
    """Memory guard only, far above normal load (4x the 1,024 connections of the closed-loop
    benchmark): past this many admitted requests per worker and queue, 503 at once. Admission by
    queueing delay acts long before it."""
    request_deadline_ms: float | None = Field(None, gt=0)
    """Drop (503) a queued request not yet scored after this long; unset: no deadline. A client
    can ask for a shorter one with the `X-Request-Timeout` header (milliseconds)."""
    max_explain_texts: int = Field(32, gt=0)
    """Most texts in one request with `explain` (each costs one scoring per word; more: 422)."""
    max_explain_in_flight: int = Field(8, gt=0)
    """Explain requests one worker admits at once (the web page sends one per model); past it,
    503 with Retry-After at once. They run one at a time, like all heavy work."""
    header_timeout_s: float = Field(10.0, gt=0)
    """Close a connection whose request line and headers have not all arrived after this long."""
    body_timeout_s: float = Field(30.0, gt=0)
    """Answer 408 and close when a request's body has not all arrived this long after its
    headers (slow clients cannot hold a worker's connections forever)."""
    max_header_bytes: int = Field(64 * 1024, gt=0)
    """Largest request line plus headers; larger: 431 and the connection is closed."""
    drain_seconds: float = Field(KEEP_ALIVE_SECONDS + 1.0, ge=0)
    """On SIGTERM, answer /health/ready with 503 and close each connection after its response for
    this long, then close the listener. Longer than the keep-alive timeout, so every idle
    connection is closed by that timer or after a response first (docs/operations.md)."""
    model_control: bool = False
    """Serve POST /v2/repository/models/{name}/load and /unload (reload a model from disk without
    a restart); off by default: it changes what is served (docs/operations.md)."""
    api_key: SecretStr | None = None
    """If set, every route but health, metrics, docs and the page needs it in `X-API-Key`."""
    cors_origins: list[str] = []
    """Origins allowed to call the API from a browser (JSON list); empty: CORS off."""
    grpc_port: int = Field(8001, ge=0, le=65535)
    """Port of the Open Inference Protocol's gRPC API, served by each worker beside HTTP; 0: off."""
    otlp_endpoint: str | None = Field(
        None,
        validation_alias=AliasChoices("SENTIMENT_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
    )
    """Base URL of an OTLP/HTTP collector (`OTEL_EXPORTER_OTLP_ENDPOINT`, OpenTelemetry's own
    variable); set: traces of each request are exported there. Unset: tracing off."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    """Log level of the service and uvicorn."""
    log_format: Literal["auto", "json", "text"] = "auto"
    """`json` (one structured line per event) or `text`; `auto`: text when stderr is a
    terminal, JSON otherwise."""
    telemetry_flush_ms: float = Field(DEFAULT_FLUSH_INTERVAL_S * 1000, ge=0)
    """Access lines are written, and request metrics handed to prometheus-client, at most this
    often (0: at the end of every event-loop turn): one write and one update per metric for many
    requests. A worker killed outright loses at most this much of its access log; log records
    (errors, warnings) are written at once, and `/metrics` applies what is pending first."""

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


def env_names(field: str) -> list[str]:
    """The environment variables of a setting, the one that wins first."""
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    return [f"SENTIMENT_{field.upper()}"]


@lru_cache
def get_settings() -> Settings:
    return Settings()
