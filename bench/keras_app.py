"""The service a user would otherwise write: Keras `model.predict` per request inside FastAPI.

Same tokenizer and architecture (rnn2) as the real service; the weights are a fresh
initialisation, since the cost of `predict` does not depend on their values.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service.schemas import PredictRequest
from service.settings import get_settings
from service.tokenizer import build_vocabulary, encode, load_word_index
from training.architectures import build_model


def create_keras_app() -> FastAPI:
    state: dict[str, object] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings = get_settings()
        index = load_word_index(settings.models_dir / "imdb_word_index.json")
        state["vocabulary"] = build_vocabulary(index, 10_000)
        state["model"] = build_model("rnn2", 10_000, 20, 8)
        yield

    app = FastAPI(lifespan=lifespan)

    # async, so calls are serialized on the event loop: Keras' predict called from FastAPI's
    # thread pool by 16 concurrent requests stalled here (0 responses in 10 s).
    @app.post("/predict")
    async def predict(body: PredictRequest) -> dict[str, object]:
        ids = encode(body.text, state["vocabulary"], 20)  # type: ignore[arg-type]
        score = float(state["model"].predict(ids[None, :], verbose=0)[0, 0])  # type: ignore[attr-defined]
        return {
            "model": "rnn2",
            "label": "positive" if score >= 0.5 else "negative",
            "score": score,
        }

    return app
