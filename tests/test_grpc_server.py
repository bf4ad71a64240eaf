"""The gRPC server as deployed: `python -m service` with two workers sharing the gRPC port
(SO_REUSEPORT), and SIGTERM letting the RPCs in flight finish while new ones are refused."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import numpy as np
import pytest
import tritonclient.grpc as tc
from tritonclient.utils import InferenceServerException

from harness import free_port, wait_until
from tests.conftest import ROOT, metric

pytestmark = pytest.mark.slow

BOUND = "gRPC (Open Inference Protocol) on port"


def big_batch() -> tc.InferInput:
    """1,000 reviews of ~9,500 characters: about half a second of work for fasttext."""
    texts = [f"a good film and a bad plot {i} ".encode() * 330 for i in range(1000)]
    tensor = tc.InferInput("text", [len(texts)], "BYTES")
    tensor.set_data_from_numpy(np.array(texts, dtype=np.object_))
    return tensor


def wait_for_an_rpc_in_flight(url: str) -> None:
    deadline = time.monotonic() + 60
    while metric(url, "sentiment_requests_in_flight") < 2:  # the scrape itself is one
        assert time.monotonic() < deadline, "no RPC reached the server"
        time.sleep(0.02)


def test_two_workers_share_the_port_and_sigterm_finishes_rpcs_in_flight(tmp_path: Path) -> None:
    http_port, grpc_port = free_port(), free_port()
    env = {
        **os.environ,
        "PORT": str(http_port),
        "WEB_CONCURRENCY": "2",
        "SENTIMENT_GRPC_PORT": str(grpc_port),
        "SENTIMENT_LOG_FORMAT": "text",
        # Queued big batches would be shed past the delay target: this test is about shutdown.
        "SENTIMENT_ADMISSION_CONTROL": "false",
    }
    log = tmp_path / "server.log"
    with log.open("w") as sink:  # a file, not a pipe: no reader to block on if the test fails
        server = subprocess.Popen(
            [sys.executable, "-m", "service"],
            cwd=ROOT,
            env=env,
            stderr=sink,
            start_new_session=True,  # its workers too are killed on the way out, whatever happens
        )
    try:
        wait_until(  # each worker binds the same port
            lambda: server.poll() is not None or log.read_text().count(BOUND) >= 2,
            120,
            "two workers serving gRPC",
        )
        assert server.poll() is None, log.read_text()
        address = f"127.0.0.1:{grpc_port}"
        with tc.InferenceServerClient(address) as triton:
            assert triton.is_server_ready(client_timeout=30), log.read_text()
        batch = big_batch()

        def infer() -> float | str:
            """When the RPC finished, or how it was refused."""
            with tc.InferenceServerClient(address) as client:
                try:
                    client.infer("fasttext", [batch], client_timeout=60)
                except InferenceServerException as e:
                    return str(e.status())
                return time.monotonic()

        with ThreadPoolExecutor(4) as pool:
            calls = [pool.submit(infer) for _ in range(4)]
            wait_for_an_rpc_in_flight(f"http://127.0.0.1:{http_port}")
            terminated = time.monotonic()
            server.send_signal(signal.SIGTERM)
            outcomes = [c.result(timeout=90) for c in calls]
        # Each RPC either finished, or came after SIGTERM and was refused as UNAVAILABLE.
        finished = [t for t in outcomes if isinstance(t, float)]
        refused = [s for s in outcomes if isinstance(s, str)]
        assert set(refused) <= {str(grpc.StatusCode.UNAVAILABLE)}, (outcomes, log.read_text())
        assert finished, (outcomes, log.read_text())
        assert max(finished) > terminated, (outcomes, log.read_text())  # in flight at SIGTERM
        with (
            pytest.raises(InferenceServerException) as late,
            tc.InferenceServerClient(address) as client,
        ):
            client.infer("fasttext", [batch], client_timeout=10)
        assert late.value.status() == str(grpc.StatusCode.UNAVAILABLE)
        assert server.wait(timeout=60) == 0, log.read_text()
    finally:
        with contextlib.suppress(ProcessLookupError):  # the group is empty once all exited
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
