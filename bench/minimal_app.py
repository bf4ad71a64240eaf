"""The 15-line service a user would write: tokenize and score one review per request, no
micro-batcher, no metrics, no logs; stock uvicorn (`python -m bench.serve minimal`)."""

from __future__ import annotations

import onnxruntime as ort
from fastapi import FastAPI

from service.schemas import PredictRequest
from service.settings import REPO_MODELS
from service.tokenizer import build_vocabulary, encode, load_word_index


def create_minimal_app() -> FastAPI:
    vocabulary = build_vocabulary(load_word_index(REPO_MODELS / "imdb_word_index.json"), 10_000)
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(REPO_MODELS / "rnn2" / "model.onnx"), options)
    name = session.get_inputs()[0].name
    app = FastAPI()

    @app.post("/predict")
    async def predict(body: PredictRequest) -> dict[str, object]:
        score = float(session.run(None, {name: encode(body.text, vocabulary, 20)[None, :]})[0][0])
        return {
            "model": "rnn2",
            "label": "positive" if score >= 0.5 else "negative",
            "score": score,
        }

    return app
