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
    # A started container has a new address, and nginx resolves `api` when it starts or reloads.
    reload_lb: bool = False


def faults(victims: list[str]) -> list[tuple[Fault, str]]:
    """Each fault with its victim, in turn over the replicas."""
    # Reconnected with its address ({ip}: as before the fault) and its service name.
    reconnect = ("network", "connect", "--ip", "{ip}", "--alias", "api", NETWORK)
    cut = ("network", "disconnect", NETWORK)
    return [
        (fault, victims[i % len(victims)])
        for i, fault in enumerate([
            Fault("kill", "a crash (SIGKILL)", ("kill",), ("start",), reload_lb=True),
            Fault("stop", "a rolling update (SIGTERM)", ("stop", "--time", "40"), ("start",), True),
            Fault("pause", "a hung replica", ("pause",), ("unpause",)),
            Fault("disconnect", "a replica cut off the network", cut, reconnect),
        ])
    ]  # fmt: skip


def run_fault(
    stack: Stack, fault: Fault, victim: str, client: Callable[[], Client]
) -> dict[str, Any]:
    address = stack.ip(victim)
    with Load(client) as load:
        wait_for("load under way", lambda: load.answered() >= WARM, 60)
        fault_start = time.time()
        podman(*fault.inject, victim)
        time.sleep(HOLD)
        fault_end = time.time()
        podman(*(arg.replace("{ip}", address) for arg in fault.recover), victim)
        if fault.reload_lb:  # once it is ready, as an orchestrator would
            stack.make_healthy([victim])
            for lb in stack.containers("lb"):
                podman("kill", "--signal", "HUP", lb)

        ip = stack.ip(victim)
        first: list[float] = []  # when nginx had it answer again (the lb's log: msec)

        def back() -> bool:
            first[:] = [
                line["msec"]
                for line in stack.access_log(since=fault_end)
                if line["upstreams"][-1] == ip and line["status"] == 200
            ][:1]
            return bool(first)

        wait_for(f"{fault.name}: {victim} answering again", back, 60, every=0.5)
        recovery = first[0] - fault_end  # from the mending command on
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
        "resent_on_closed_keepalive": overall["resent_on_closed_keepalive"],
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
    for fault, victim in faults(stack.containers("api")):
        try:
            results.append(run_fault(stack, fault, victim, client))
        except CheckFailed:
            print(podman("logs", "--tail", "20", victim, check_exit=False))
            raise
    return results
