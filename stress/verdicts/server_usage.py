"""The server's own CPU time over a load, from two `/flash-sale/metrics` readings.

Load and server share this host's cores in most runs, so a latency or a
throughput says little until one knows who spent the CPU: these figures tell
the server's part from the client's.
"""

from __future__ import annotations

from typing import Any


def server_cpu_s(before: dict[str, Any] | None, after: dict[str, Any] | None) -> float | None:
    """CPU seconds the server's processes spent between the two readings.

    A process that started in between counts whole; one that died in between is
    missing from `after`, and its last share with it. None when the server does
    not report its processes.
    """
    if not before or not after or "processes" not in before or "processes" not in after:
        return None
    spent_before = {p["pid"]: p["cpuSeconds"] for p in before["processes"]}
    spent: float = sum(
        max(0.0, p["cpuSeconds"] - spent_before.get(p["pid"], 0.0)) for p in after["processes"]
    )
    return round(spent, 2)


def per_request_us(cpu_s: float | None, requests: int) -> int | None:
    if cpu_s is None or requests <= 0:
        return None
    return round(cpu_s * 1e6 / requests)


def cpu_summary(run: dict[str, Any]) -> str:
    """Who spent the CPU during a flash run: the server (from its metrics) and the clients."""
    wall, cores = run["loadWallS"], run["hostLoadAverage1m"]["cores"] or 1
    client = f"client CPU {run['clientCpuS']} s ({run['processes']} processes)"
    if run.get("serverCpuS") is None:
        return f"{client} over {wall} s of load; the server did not report its CPU"
    spent = run["serverCpuS"] + run["clientCpuS"]
    busy = f", {spent / (wall * cores):.0%} of this host's {cores} cores" if wall > 0 else ""
    return (
        f"server CPU {run['serverCpuS']} s ({run['serverCpuPerRequestUs']} µs per request) "
        f"+ {client} over {wall} s of load{busy}"
    )
