"""A closed-loop gRPC load generator for `ModelInfer` (wrk's counterpart, as no gRPC one is
packaged here): `connections` channels, each with one RPC outstanding at a time, for `seconds`.

    python -m bench.grpc_load 127.0.0.1:8001 --text-file review.txt [--connections 16]

The request is serialized once, as Triton's client sends it (`raw_input_contents`), and answers
are not decoded, so the client spends as little CPU as it can per call. Prints one JSON object:
rps, p50_ms, p99_ms, requests, errors (as bench.run's Load).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import grpc
import numpy as np

from service.protos import grpc_predict_v2_pb2 as pb
from service.v2.grpc_tensors import join_bytes

METHOD = "/inference.GRPCInferenceService/ModelInfer"


def infer_request(model: str, text: str) -> bytes:
    request = pb.ModelInferRequest(model_name=model)
    request.inputs.add(name="text", datatype="BYTES", shape=[1])
    request.raw_input_contents.append(join_bytes([text.encode()]))
    return bytes(request.SerializeToString())


async def drive(target: str, body: bytes, connections: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0

    async def one_connection(stop: float) -> None:
        nonlocal errors
        async with grpc.aio.insecure_channel(target) as channel:
            call = channel.unary_unary(METHOD)  # bytes in, bytes out
            while (now := time.perf_counter()) < stop:
                try:
                    await call(body, timeout=30)
                    latencies.append(time.perf_counter() - now)
                except grpc.RpcError:
                    errors += 1

    await asyncio.gather(*(one_connection(time.perf_counter() + 1) for _ in range(connections)))
    latencies.clear()  # the first second warms the channels up
    errors = 0
    start = time.perf_counter()
    await asyncio.gather(*(one_connection(start + seconds) for _ in range(connections)))
    elapsed = time.perf_counter() - start
    ordered = np.sort(np.array(latencies)) * 1000 if latencies else np.zeros(1)
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": float(np.percentile(ordered, 50)),
        "p99_ms": float(np.percentile(ordered, 99)),
        "requests": len(latencies),
        "errors": errors,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.grpc_load", description=__doc__)
    parser.add_argument("target", help="host:port of the gRPC server")
    parser.add_argument("--text-file", type=Path, required=True)
    parser.add_argument("--model", default="rnn2")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=8)
    args = parser.parse_args(argv)
    body = infer_request(args.model, args.text_file.read_text(encoding="utf-8"))
    result = asyncio.run(drive(args.target, body, args.connections, args.seconds))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
