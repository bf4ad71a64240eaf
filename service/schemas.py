"""Request and response bodies of the HTTP API (they become the OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    model_validator,
)

MAX_BATCH_TEXTS = 1_000
"""The schema's cap on `texts`: pydantic refuses a longer list before validating any item, so a
body of a million bad items costs one error, not a million (settings can only lower it)."""


def _valid_text(text: str) -> str:
    if not text.strip():
        raise ValueError("text is empty or only whitespace")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # A JSON escape such as "\ud800" alone is no Unicode character: nothing could echo it back.
        raise ValueError("text contains a lone surrogate (invalid Unicode)") from None
    return text


ReviewText = Annotated[StrictStr, AfterValidator(_valid_text)]
ModelName = Annotated[StrictStr | None, Field(description="Model to use; the default if omitted.")]
Explain = Annotated[
    StrictBool,
    Field(
        description="Also return the words the model saw after truncation, how many were cut, "
        "and each seen word's contribution to the score (see `explanation`)."
    ),
]


def few_fields(data: object, most: int = 16) -> object:
    """Refuse an object with more members than any valid request has, before pydantic reports
    each unknown one (a body of a million keys would make a million errors)."""
    if isinstance(data, dict) and len(data) > most:
        raise ValueError(f"an object with {len(data)} members; at most {most} are accepted")
    return data


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    _few_fields = model_validator(mode="before")(few_fields)


class PredictRequest(_Request):
    text: ReviewText = Field(description="Raw review text.", examples=["A wonderful, moving film."])
    model: ModelName = None
    explain: Explain = False


class BatchPredictRequest(_Request):
    texts: list[ReviewText] = Field(
        min_length=1, max_length=MAX_BATCH_TEXTS, description="Raw review texts, scored in order."
    )
    model: ModelName = None
    explain: Explain = False


class Token(BaseModel):
    word: str
    id: int
    oov: bool = Field(
        description="True when the word is unknown or outside the model's vocabulary."
    )


OCCLUSION = (
    "With explain: each word the model saw, in input order, with its contribution: the score of "
    "the text minus the score of the same text with that one word deleted (tokenized again, so "
    "the word just before the window, or the start id, slides in, or the padding grows). "
    "Positive: the word pushed the score towards positive. Re-scoring the text with the word "
    "deleted gives score - contribution."
)


class Contribution(Token):
    contribution: float = Field(
        description="score(text) - score(text with this word deleted); positive pushes positive."
    )


class Prediction(BaseModel):
    label: Literal["positive", "negative"]
    score: float = Field(description="Probability of a positive review; positive when >= 0.5.")
    tokens: list[Token] | None = Field(
        None, description="With explain: the words inside the model's window, in order."
    )
    truncated: int | None = Field(
        None, description="With explain: how many words were cut from the front of the text."
    )
    explanation: list[Contribution] | None = Field(None, description=OCCLUSION)


class PredictResponse(Prediction):
    model_config = ConfigDict(protected_namespaces=())
    model: str


class BatchPredictResponse(BaseModel):
    model_config = ConfigDict(protected_namespaces=())
    model: str
    predictions: list[Prediction]


class ModelSummary(BaseModel):
    name: str
    architecture: str
    params: int
    input_length: int
    num_words: int
    test_accuracy: float | None
    sha256: str
    default: bool
    wordpiece_tokens: int | None = None
    """How many WordPiece tokens the model reads after its word window (minilm); None: none."""
    explainable: bool = True
    """Whether `explain` works for it (not for a model that reads WordPiece tokens)."""


class ModelList(BaseModel):
    default: str
    models: list[ModelSummary]


class Health(BaseModel):
    status: Literal["ok", "ready", "not ready"]


class ErrorDetail(BaseModel):
    type: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorDetail


class CompareRequest(_Request):
    text: ReviewText | None = Field(None, description="One raw review text.")
    texts: list[ReviewText] | None = Field(
        None,
        min_length=1,
        max_length=MAX_BATCH_TEXTS,
        description="Raw review texts, compared in order.",
    )

    @model_validator(mode="after")
    def _one_of_text_or_texts(self) -> CompareRequest:
        if (self.text is None) == (self.texts is None):
            raise ValueError("send either text or texts, not both and not neither")
        return self


class ModelScore(BaseModel):
    model_config = ConfigDict(protected_namespaces=())
    model: str
    label: Literal["positive", "negative"]
    score: float = Field(description="Probability of a positive review; positive when >= 0.5.")


class Comparison(BaseModel):
    agree: bool = Field(description="True when every model gives the same label.")
    predictions: list[ModelScore] = Field(description="One per served model, in /models order.")


class ComparisonBatch(BaseModel):
    comparisons: list[Comparison] = Field(description="One per text, in input order.")
