"""The request mix of the load tests: real reviews of real lengths, batches, random models, and a
small share of bad inputs that must come back as the expected 4xx."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REVIEWS: list[str] = [
    r["text"] for r in json.loads((Path(__file__).parent / "reviews.json").read_text("utf-8"))
]
CHAPTER_MODELS = ["ff", "rnn", "rnn2", "rnn3"]
BAD_INPUTS: list[tuple[dict[str, Any], int]] = [
    ({"text": ""}, 422),
    ({"text": "   "}, 422),
    ({"text": 42}, 422),
    ({"texts": "not a list"}, 422),
    ({"text": "fine", "model": "no-such-model"}, 404),
]


REFUSED = "refused: 503 with Retry-After (overload or deadline)"


def is_refusal(status: int | None, headers: Any) -> bool:
    """A refusal, not an error: 503 or 429 with Retry-After, the server's way of saying "later"."""
    return status in (429, 503) and "retry-after" in {k.lower() for k in headers}


@dataclass(frozen=True)
class Call:
    kind: str
    """single, batch or bad: the name the report groups by."""
    path: str
    body: dict[str, Any]
    expected_status: int


def mix_models(listed: list[dict[str, Any]]) -> list[str]:
    """The models of `GET /models` the mix sends to: not those that read WordPiece tokens
    (minilm, about 100x the others' cost a review), which would make one call in seven measure
    the encoder rather than the service."""
    return [m["name"] for m in listed if not m.get("wordpiece_tokens")]


def next_call(rng: random.Random, models: list[str], bad_share: float = 0.05) -> Call:
    """80% single reviews, 15% batches of 2-32, and `bad_share` bad inputs (out of the batches)."""
    roll = rng.random()
    if roll < bad_share:
        body, status = rng.choice(BAD_INPUTS)
        return Call("bad input (expected 4xx)", "/predict", body, status)
    if roll < 0.20:
        texts = rng.sample(REVIEWS, rng.randint(2, 32))
        return Call("batch", "/predict/batch", {"texts": texts, "model": rng.choice(models)}, 200)
    return Call(
        "single", "/predict", {"text": rng.choice(REVIEWS), "model": rng.choice(models)}, 200
    )
