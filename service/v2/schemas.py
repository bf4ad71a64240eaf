"""The Open Inference Protocol (KServe v2 REST): its JSON bodies, and the strict decoding of an
infer request into the ids a model scores.

A model takes one input, either `text` (BYTES, shape [N]: raw reviews, tokenized as /predict
does) or `input_ids` (INT64, shape [N, input length]: ids as the tokenizer makes them), and gives
`score` (FP32, [N]) and `label` (BYTES, [N]). Anything else is a `V2Error`, answered as
`{"error": "..."}`, the protocol's own error shape.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Annotated, Any

import numpy as np
import numpy.typing as npt
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    model_validator,
)

from service.dependencies import Runtime
from service.inference import (
    QueueTerms,
    batch_limit,
    label_of,
    run_cpu,
    score_rows,
    score_text,
    score_texts,
)
from service.registry import SentimentModel
from service.schemas import few_fields
from service.settings import Settings


def _unicode(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("contains a lone surrogate (invalid Unicode)") from None
    return text


# Every list and map is capped in the schema, so that pydantic stops at the first item past the
# cap instead of reporting every bad item of a huge body.
Parameters = Annotated[
    dict[str, StrictStr | StrictInt | StrictFloat | StrictBool],
    BeforeValidator(partial(few_fields, most=64)),
]
RequestId = Annotated[StrictStr, Field(max_length=256), AfterValidator(_unicode)]
OUTPUTS = ("score", "label")


class V2Error(Exception):
    """An error of the v2 routes, with its HTTP status (400 unless said otherwise)."""

    def __init__(self, message: str, status_code: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class V2ErrorBody(BaseModel):
    error: str


class MetadataTensor(BaseModel):
    name: str
    datatype: str
    shape: list[int] = Field(description="-1 marks a dimension of any size.")


class ServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str]


class ModelMetadata(BaseModel):
    name: str
    platform: str
    inputs: list[MetadataTensor]
    outputs: list[MetadataTensor]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    _few_fields = model_validator(mode="before")(few_fields)


class RequestInput(_Strict):
    name: StrictStr
    shape: list[StrictInt]
    datatype: StrictStr
    parameters: Parameters | None = None
    data: list[Any] = Field(description="Row-major, flattened or nested as the shape.")


class RequestOutput(_Strict):
    name: StrictStr
    parameters: Parameters | None = None


class InferenceRequest(_Strict):
    id: RequestId | None = None
    parameters: Parameters | None = None
    inputs: list[RequestInput] = Field(max_length=16)
    outputs: list[RequestOutput] | None = Field(None, max_length=16)


class ResponseOutput(BaseModel):
    name: str
    datatype: str
    shape: list[int]
    data: list[float] | list[str]


class InferenceResponse(BaseModel):
    model_config = ConfigDict(protected_namespaces=())
    model_name: str
    id: str
    outputs: list[ResponseOutput]


def model_metadata(model: SentimentModel) -> ModelMetadata:
    return ModelMetadata(
        name=model.name,
        platform="onnxruntime_onnx",
        inputs=[
            MetadataTensor(name="text", datatype="BYTES", shape=[-1]),
            MetadataTensor(name="input_ids", datatype="INT64", shape=[-1, model.row_length]),
        ],
        outputs=[
            MetadataTensor(name="score", datatype="FP32", shape=[-1]),
            MetadataTensor(name="label", datatype="BYTES", shape=[-1]),
        ],
    )


def _nested(data: list[Any], shape: list[int], where: str) -> list[Any]:
    if len(data) != shape[0]:
        raise V2Error(f"{where} has {len(data)} elements where the shape says {shape[0]}")
    if len(shape) == 1:
        if any(isinstance(x, list) for x in data):
            raise V2Error(f"{where} is nested deeper than the shape")
        return data
    flat: list[Any] = []
    for i, row in enumerate(data):
        if not isinstance(row, list):
            raise V2Error(f"{where}[{i}] is not an array, yet the shape has more dimensions")
        flat.extend(_nested(row, shape[1:], f"{where}[{i}]"))
    return flat


def _flatten(tensor: RequestInput) -> list[Any]:
    """The data as one row-major list, from its flattened or its nested form."""
    where = f"input {tensor.name!r} data"
    if any(isinstance(x, list) for x in tensor.data):
        return _nested(tensor.data, tensor.shape, where)
    size = math.prod(tensor.shape)
    if len(tensor.data) != size:
        raise V2Error(f"{where} has {len(tensor.data)} elements; shape {tensor.shape} needs {size}")
    return tensor.data


def _check(tensor: RequestInput, datatype: str, shape: list[int], limit: int) -> None:
    if tensor.datatype != datatype:
        raise V2Error(f"input {tensor.name!r} must be {datatype}, not {tensor.datatype}")
    fits = len(tensor.shape) == len(shape) and all(
        want in (-1, got) for want, got in zip(shape, tensor.shape, strict=True)
    )
    if not fits:
        wanted = ", ".join("N" if d == -1 else str(d) for d in shape)
        raise V2Error(f"input {tensor.name!r} must have shape [{wanted}], not {tensor.shape}")
    if not 1 <= tensor.shape[0] <= limit:
        raise V2Error(f"batch size must be 1 to {limit}, not {tensor.shape[0]}")


def _texts(tensor: RequestInput, model: SentimentModel, settings: Settings) -> list[str]:
    _check(tensor, "BYTES", [-1], batch_limit(settings, [model]))
    texts = _flatten(tensor)
    for i, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise V2Error(f"text[{i}] must be a non-blank string")
        try:
            _unicode(text)
        except ValueError as e:
            raise V2Error(f"text[{i}] {e}") from None
        if len(text) > settings.max_text_chars:
            raise V2Error(f"text[{i}] is longer than {settings.max_text_chars} characters")
    return texts


def _ids(tensor: RequestInput, model: SentimentModel, settings: Settings) -> npt.NDArray[np.int32]:
    _check(tensor, "INT64", [-1, model.row_length], batch_limit(settings, [model]))
    ids = _flatten(tensor)
    num_words, window, width = model.card.num_words, model.input_length, model.row_length
    wordpieces = num_words if model.wordpiece is None else model.wordpiece.vocab_size
    for i, x in enumerate(ids):
        # A row is the word window, then (for a WordPiece model) its WordPiece ids.
        bound = num_words if i % width < window else wordpieces
        if not isinstance(x, int) or isinstance(x, bool) or not 0 <= x < bound:
            raise V2Error(f"input_ids[{i}] must be an integer id from 0 to {bound - 1}")
    return np.array(ids, dtype=np.int32).reshape(tensor.shape)


def _one_input(request: InferenceRequest) -> RequestInput:
    if len(request.inputs) != 1:
        names = [t.name for t in request.inputs]
        raise V2Error(f"send exactly one input, either 'text' or 'input_ids', not {names}")
    (tensor,) = request.inputs
    if tensor.name not in ("text", "input_ids"):
        raise V2Error(f"unknown input {tensor.name!r}; the inputs are 'text' and 'input_ids'")
    return tensor


def decode_input(
    request: InferenceRequest, model: SentimentModel, settings: Settings
) -> npt.NDArray[np.int32]:
    """The ids to score, shape (N, input length), from the request's one input."""
    tensor = _one_input(request)
    if tensor.name == "text":
        return model.encode(_texts(tensor, model, settings))
    return _ids(tensor, model, settings)


def _score_request(
    request: InferenceRequest, model: SentimentModel, settings: Settings
) -> list[float]:
    tensor = _one_input(request)
    if tensor.name == "text":
        return score_texts(model, _texts(tensor, model, settings))
    return score_rows(model, _ids(tensor, model, settings))


async def infer_scores(
    runtime: Runtime, model: SentimentModel, request: InferenceRequest, terms: QueueTerms
) -> list[float]:
    """The scores of an infer request, REST or gRPC, on the dataplane of /predict: one text goes
    through the model's micro-batcher as POST /predict does; anything else is decoded and scored in
    one onnxruntime call on the CPU queue (`run_cpu`), as /predict/batch is. Each asks its own
    queue's admission control."""
    tensor = _one_input(request)
    if tensor.name == "text" and tensor.shape == [1]:
        (text,) = _texts(tensor, model, runtime.settings)
        score, _ = await score_text(runtime, model, text, terms["deadline_s"], terms["ready_at"])
        return [score]
    return await run_cpu(
        runtime, partial(_score_request, request, model, runtime.settings), **terms
    )


def encode_outputs(request: InferenceRequest, scores: list[float]) -> list[ResponseOutput]:
    """The requested outputs (all if none are named), in the order asked for."""
    names = [o.name for o in request.outputs] if request.outputs else list(OUTPUTS)
    unknown = sorted(set(names) - set(OUTPUTS))
    if unknown or len(set(names)) != len(names):
        raise V2Error(f"outputs must be distinct names among 'score' and 'label', not {names}")
    labels: list[str] = [label_of(s) for s in scores]
    shape = [len(scores)]
    return [
        ResponseOutput(name="score", datatype="FP32", shape=shape, data=scores)
        if name == "score"
        else ResponseOutput(name="label", datatype="BYTES", shape=shape, data=labels)
        for name in names
    ]
