"""The ceiling for one request: a bare FastAPI app (the same pydantic body as /predict, a
constant answer, no middleware, no logging), run under stock uvicorn with uvloop and httptools
by `python -m bench.serve bare`."""

from __future__ import annotations

from fastapi import FastAPI

from service.schemas import PredictRequest


def create_bare_app() -> FastAPI:
    app = FastAPI()

    @app.post("/predict")
    async def predict(body: PredictRequest) -> dict[str, object]:
        return {"model": "bare", "label": "positive", "score": 0.5}

    return app
