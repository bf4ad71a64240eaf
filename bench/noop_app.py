"""The benchmark's baseline: a FastAPI endpoint that parses the same JSON body as /predict
(the same pydantic model) and returns a constant, under the same uvicorn settings."""

from __future__ import annotations

from fastapi import FastAPI

from service.schemas import PredictRequest


def create_noop_app() -> FastAPI:
    app = FastAPI()

    @app.post("/predict")
    async def predict(body: PredictRequest) -> dict[str, object]:
        return {"model": "noop", "label": "positive", "score": 0.5}

    return app
