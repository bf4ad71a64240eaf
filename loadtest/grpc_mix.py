"""The load tests' mix (loadtest/mix.py) over gRPC: each call becomes a `ModelInfer` request as
Triton's client sends it (`raw_input_contents`), sent closed loop (`users` in a loop each) or open
loop (a fixed arrival rate), timed as loadtest/run.py times HTTP requests.

A call's expected HTTP status maps to its gRPC code: 200 to OK, 404 to NOT_FOUND, 422 (and 400)
to INVALID_ARGUMENT. Results carry the code's number in place of the HTTP status.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import grpc

from loadtest.mix import Call
from loadtest.run import Sent
from service.protos import grpc_predict_v2_pb2 as pb
from service.v2.grpc_tensors import join_bytes

METHOD = "/inference.GRPCInferenceService/ModelInfer"
CODES = {
    200: grpc.StatusCode.OK,
    400: grpc.StatusCode.INVALID_ARGUMENT,
    404: grpc.StatusCode.NOT_FOUND,
    422: grpc.StatusCode.INVALID_ARGUMENT,
}


def infer_body(model: str, texts: list[str], datatype: str = "BYTES") -> bytes:
    """A serialized ModelInferRequest of these texts."""
    request = pb.ModelInferRequest(model_name=model)
    request.inputs.add(name="text", datatype=datatype, shape=[len(texts)])
    request.raw_input_contents.append(join_bytes([t.encode() for t in texts]))
    return bytes(request.SerializeToString())


def to_infer(call: Call, default_model: str) -> tuple[bytes, int]:
    """The call as a ModelInfer body, and the number of the gRPC code it should get."""
    body = call.body
    model = str(body.get("model", default_model))
    texts = body["texts"] if "texts" in body else [body.get("text")]
    if isinstance(texts, list) and all(isinstance(t, str) for t in texts):
        return infer_body(model, texts), CODES[call.expected_status].value[0]
    # Not texts at all: a tensor of the wrong datatype, refused as the HTTP form refuses it.
    return infer_body(model, [str(texts)], "INT64"), CODES[422].value[0]


async def _one(call: grpc.aio.UnaryUnaryMultiCallable, body: bytes) -> int:
    try:
        await call(body, timeout=30)
        return int(grpc.StatusCode.OK.value[0])
    except grpc.aio.AioRpcError as e:
        return int(e.code().value[0])


async def closed_loop(
    target: str, users: int, seconds: float, next_call: Callable[[], Call], model: str
) -> list[Sent]:
    """`users` channels, each sending its next call as soon as the last is answered."""
    results: list[Sent] = []
    start = time.perf_counter()

    async def user() -> None:
        async with grpc.aio.insecure_channel(target) as channel:
            method = channel.unary_unary(METHOD)
            while (sent := time.perf_counter()) < start + seconds:
                call = next_call()
                body, expected = to_infer(call, model)
                status = await _one(method, body)
                latency = time.perf_counter() - sent
                results.append(Sent(sent - start, latency, call.kind, status, expected))

    await asyncio.gather(*(user() for _ in range(users)))
    return results


async def open_loop(target: str, calls: list[Call], rate: float, model: str) -> list[Sent]:
    """`calls` at a fixed arrival rate over one channel, each timed from when it was due."""
    bodies = [to_infer(call, model) for call in calls]  # encoded before the clock starts
    results: list[Sent] = []
    async with grpc.aio.insecure_channel(target) as channel:
        method = channel.unary_unary(METHOD)
        start = time.perf_counter() + 0.2

        async def one(i: int) -> None:
            due = start + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            status = await _one(method, bodies[i][0])
            latency = time.perf_counter() - due
            results.append(Sent(due - start, latency, calls[i].kind, status, bodies[i][1]))

        await asyncio.gather(*(one(i) for i in range(len(calls))))
    return results
