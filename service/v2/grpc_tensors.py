"""Tensors of the Open Inference Protocol's gRPC form, to and from its REST form
(service/v2/schemas.py):
a `ModelInferRequest` becomes the same `InferenceRequest` the REST route validates, so both
protocols share one decoding and one set of checks.

A tensor's values come either typed in `contents` (`bytes_contents`, `int64_contents`, ...) or, as
Triton's client sends them, in `raw_input_contents`: one byte string per input, little-endian,
each BYTES element prefixed by its length as a 4-byte little-endian integer.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import ValidationError

from service.protos import grpc_predict_v2_pb2 as pb
from service.v2.schemas import (
    InferenceRequest,
    RequestInput,
    RequestOutput,
    ResponseOutput,
    V2Error,
)

# Only these are decoded; any other datatype is refused by the checks, whatever its values.
_TYPED = {"BYTES": "bytes_contents", "INT64": "int64_contents"}


def split_bytes(raw: bytes, where: str) -> list[bytes]:
    """The elements of a raw BYTES tensor (each prefixed by its 4-byte little-endian length)."""
    elements, i = [], 0
    while i < len(raw):
        if i + 4 > len(raw):
            raise V2Error(f"{where}: truncated length prefix at byte {i}")
        (n,) = struct.unpack_from("<I", raw, i)
        if i + 4 + n > len(raw):
            raise V2Error(f"{where}: element at byte {i} runs past the end ({n} bytes)")
        elements.append(raw[i + 4 : i + 4 + n])
        i += 4 + n
    return elements


def join_bytes(elements: Sequence[bytes]) -> bytes:
    return b"".join(struct.pack("<I", len(e)) + e for e in elements)


def _decode_text(values: Sequence[bytes], where: str) -> list[str]:
    try:
        return [v.decode("utf-8") for v in values]
    except UnicodeDecodeError as e:
        raise V2Error(f"{where}: an element is not valid UTF-8 ({e.reason})") from None


def _values(tensor: pb.ModelInferRequest.InferInputTensor, raw: bytes | None) -> list[Any]:
    where = f"input {tensor.name!r}"
    if tensor.datatype not in _TYPED:
        return []
    if raw is None:
        typed = getattr(tensor.contents, _TYPED[tensor.datatype])
        return _decode_text(typed, where) if tensor.datatype == "BYTES" else list(typed)
    if tensor.datatype == "BYTES":
        return _decode_text(split_bytes(raw, where), where)
    if len(raw) % 8:
        raise V2Error(f"{where}: {len(raw)} raw bytes are not a whole number of INT64 values")
    values: list[Any] = np.frombuffer(raw, dtype="<i8").tolist()
    return values


def _raw_of(request: pb.ModelInferRequest) -> list[bytes | None]:
    raw = list(request.raw_input_contents)
    if not raw:
        return [None] * len(request.inputs)
    if len(raw) != len(request.inputs):
        raise V2Error(f"{len(raw)} raw_input_contents for {len(request.inputs)} inputs")
    if any(t.HasField("contents") for t in request.inputs):
        raise V2Error("send each input's values in contents or in raw_input_contents, not both")
    return list(raw)


def to_rest(request: pb.ModelInferRequest) -> InferenceRequest:
    """The REST form of an infer request, values decoded, for the REST checks to judge."""
    raws = _raw_of(request)
    try:
        inputs = [
            RequestInput(name=t.name, shape=list(t.shape), datatype=t.datatype, data=_values(t, r))
            for t, r in zip(request.inputs, raws, strict=True)
        ]
        outputs = [RequestOutput(name=o.name) for o in request.outputs] or None
        return InferenceRequest(id=request.id or None, inputs=inputs, outputs=outputs)
    except ValidationError as e:  # the REST schema's own caps (request id, counts of tensors)
        error = e.errors()[0]
        where = ".".join(str(p) for p in error.get("loc", ())) or "request"
        raise V2Error(f"{where}: {error.get('msg', 'invalid')}") from None


def to_response(
    model_name: str, request_id: str, outputs: list[ResponseOutput], raw: bool
) -> pb.ModelInferResponse:
    """The gRPC answer; values in `raw_output_contents` when the request sent raw ones (as
    Triton's client expects), typed `contents` otherwise (readable in grpcurl's JSON)."""
    response = pb.ModelInferResponse(model_name=model_name, id=request_id)
    for output in outputs:
        tensor = response.outputs.add(name=output.name, datatype=output.datatype)
        tensor.shape.extend(output.shape)
        if output.datatype == "FP32":
            if raw:
                response.raw_output_contents.append(np.asarray(output.data, "<f4").tobytes())
            else:
                tensor.contents.fp32_contents.extend(output.data)
            continue
        encoded = [str(x).encode() for x in output.data]
        if raw:
            response.raw_output_contents.append(join_bytes(encoded))
        else:
            tensor.contents.bytes_contents.extend(encoded)
    return response
