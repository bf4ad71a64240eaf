"""Faults on real containers under load through nginx: each replica broken, then brought back.

For each fault: load from a few keep-alive clients through the lb; one api replica is broken
(`inject`) and held so for HOLD seconds, then brought back (`recover`). Required: 0 failed client
requests, and the replica answers again through nginx. Figures: failed requests, p99 while the
fault held, and recovery (from `recover` until nginx has the replica answer again).
A new fault (a drain, say) is one more `Fault`; a new protocol is one more load client.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from common import CheckFailed, check, podman, wait_for
from compose import NETWORK, Stack
from load import Client, Load

HOLD = 6.0  # seconds a fault lasts: longer than nginx's read timeout (5 s)
WARM = 200  # answered requests before the fault


@dataclass(frozen=True)
class Fault:
    """Two podman commands, each completed by the victim's name: one breaks it, one mends it."""

    name: str
    what: str  # what it stands for
    inject: tuple[str, ...]
    recover: tuple[str, ...]


def faults(stack: Stack, victims: list[str]) -> list[tuple[Fault, str]]:
    """Each fault with its victim, in turn over the replicas."""
    # Reconnected with its address and service name as before: nginx resolved `api` at start.
    last = stack.ip(victims[-1])
    reconnect = ("network", "connect", "--ip", last, "--alias", "api", NETWORK)
    return [
        (Fault("kill", "a crash (SIGKILL)", ("kill",), ("start",)), victims[0]),
        (Fault("stop", "a rolling update (SIGTERM)", ("stop", "--time", "40"), ("start",)), victims[1 % len(victims)]),
        (Fault("pause", "a hung replica", ("pause",), ("unpause",)), victims[2 % len(victims)]),
        (Fault("disconnect", "cut off the network", ("network", "disconnect", NETWORK), reconnect), victims[-1]),
    ]  # fmt: skip


def run_fault(
    stack: Stack, fault: Fault, victim: str, client: Callable[[], Client]
) -> dict[str, Any]:
    ip = stack.ip(victim)
    with Load(client) as load:
        wait_for("load under way", lambda: load.answered() >= WARM, 60)
        fault_start = time.time()
        podman(*fault.inject, victim)
        time.sleep(HOLD)
        fault_end = time.time()
        podman(*fault.recover, victim)

        def back() -> bool:
            return any(
                line["upstreams"][-1] == ip and line["status"] == 200
                for line in stack.access_log(since=fault_end)
            )

        recovery = wait_for(f"{fault.name}: {victim} answering again", back, 60, every=0.5)
        time.sleep(1)
    during = load.figures(fault_start, fault_end)
    overall = load.figures()
    figures = {
        "fault": fault.name,
        "stands_for": fault.what,
        "victim": victim,
        "requests": overall["requests"],
        "failed": overall["failed"],
        "failures": overall["failures"],
        "examples": overall["examples"],
        "p50_ms": overall["p50_ms"],
        "p99_ms": overall["p99_ms"],
        "p99_during_fault_ms": during["p99_ms"],
        "max_during_fault_ms": during["max_ms"],
        "recovery_seconds": round(recovery, 1),
        "retried_on_another_replica": sum(
            len(line["upstreams"]) > 1 for line in stack.access_log(since=fault_start)
        ),
    }
    print("  --  " + ", ".join(f"{k}={v}" for k, v in figures.items() if k != "examples"))
    check(
        figures["failed"] == 0,
        f"{fault.name}: 0 of {figures['requests']} requests failed",
        figures["examples"],
    )
    check(True, f"{fault.name}: {victim} answers through nginx again ({recovery:.1f} s)")
    return figures


def run_faults(stack: Stack, client: Callable[[], Client]) -> list[dict[str, Any]]:
    results = []
    for fault, victim in faults(stack, stack.containers("api")):
        try:
            results.append(run_fault(stack, fault, victim, client))
        except CheckFailed:
            print(podman("logs", "--tail", "20", victim, check_exit=False))
            raise
    return results
