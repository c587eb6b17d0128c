"""A burst that costs the client little: every shopper a new connection, all
released at one wall-clock instant by asyncio on uvloop, in a few processes.

Each shopper connects, sends one purchase with `Connection: close`, and reads
the answer; its latency counts from the release instant, as a shopper who
pressed Buy then would see it. The client is the toolkit's own minimal one
(stress/client/wire.py, which gives the figures that chose it): every client cycle is
one the server does not get. Over several hosts (URLs), shopper i buys on host
i mod their count.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from stress.api import PURCHASE_PATH
from stress.client.release import STARTED, PhaseGate, release_together
from stress.client.wire import WIRE_ERRORS, connect, json_post
from stress.runs import raise_nofile_limit
from stress.stats import percentile

START_LEAD_S = 1.0
ANSWER_TIMEOUT_S = 30.0


@dataclass
class BurstResult:
    shoppers: int
    codes: dict[str, int]  # HTTP status -> count; "error" for no answer
    latencies_s: list[float]  # of every answer, from the release instant
    first_send_s: float | None  # after the release, the first and last shopper to connect
    last_send_s: float | None
    client_cpu_s: float
    errors: list[str] = field(default_factory=list)  # a few, for the report
    # Several hosts: the latencies of each host's answers, by the host's index.
    latencies_by_host_s: dict[int, list[float]] = field(default_factory=dict)

    @property
    def answered(self) -> int:
        return len(self.latencies_s)

    def latency_ms(self, fraction: float) -> float | None:
        return _ms(self.latencies_s, fraction)

    def host_latency_ms(self, host: int, fraction: float) -> float | None:
        return _ms(self.latencies_by_host_s.get(host, []), fraction)

    @property
    def release_spread_ms(self) -> float | None:
        if self.first_send_s is None or self.last_send_s is None:
            return None
        return round((self.last_send_s - self.first_send_s) * 1000, 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "shoppers": self.shoppers,
            "answered": self.answered,
            "codes": self.codes,
            "p50Ms": self.latency_ms(0.50),
            "p99Ms": self.latency_ms(0.99),
            "maxMs": self.latency_ms(1.0),
            "releaseSpreadMs": self.release_spread_ms,
            "clientCpuS": round(self.client_cpu_s, 2),
            "errors": self.errors,
        }


def run_burst(
    url: str | Sequence[str],
    users: list[str],
    processes: int = 2,
    *,
    tickets: dict[str, str] | None = None,
) -> BurstResult:
    """Every user buys once, on a connection of its own, all released together; over
    several URLs, user i on URL i mod their count. `tickets`: each user's waiting-room
    ticket, sent with its purchase."""
    raise_nofile_limit()
    urls = [url] if isinstance(url, str) else list(url)
    processes = max(1, min(processes, len(users)))
    shoppers = [(i % len(urls), user, (tickets or {}).get(user)) for i, user in enumerate(users)]
    parts = release_together(
        _shopper_process,
        [(urls, shoppers[i::processes]) for i in range(processes)],
        work_timeout_s=ANSWER_TIMEOUT_S + 10,
        what="burst",
        lead_s=START_LEAD_S,  # each process has thousands of shoppers to set going
    )
    codes: Counter[str] = Counter()
    latencies: list[float] = []
    sends: list[float] = []
    errors: list[str] = []
    by_host: dict[int, list[float]] = {}
    cpu = 0.0
    for part in parts:
        codes.update(part["codes"])
        for host, latency in part["latencies"]:
            latencies.append(latency)
            by_host.setdefault(host, []).append(latency)
        sends += part["sends"]
        errors += part["errors"][: 10 - len(errors)]
        cpu += part["cpu"]
    return BurstResult(
        shoppers=len(users),
        codes=dict(codes),
        latencies_s=latencies,
        first_send_s=min(sends, default=None),
        last_send_s=max(sends, default=None),
        client_cpu_s=cpu,
        errors=errors,
        latencies_by_host_s=by_host if len(urls) > 1 else {},
    )


def _shopper_process(
    index: int,
    urls: list[str],
    shoppers: list[tuple[int, str, str | None]],
    gate: PhaseGate,
    results: Any,  # multiprocess Queue: this process's outcome
) -> None:
    import resource

    import uvloop

    raise_nofile_limit()
    addresses = [(parts.hostname or "127.0.0.1", parts.port or 80) for parts in map(urlsplit, urls)]
    targets = [
        (host, *addresses[host], _purchase(addresses[host][0], user, ticket))
        for host, user, ticket in shoppers
    ]
    gate.report(index, STARTED)
    release_ns = gate.release_ns()
    if release_ns is None:
        return  # the parent gave up on the run
    before = resource.getrusage(resource.RUSAGE_SELF)
    outcome = uvloop.run(_release_all(targets, release_ns / 1e9))
    after = resource.getrusage(resource.RUSAGE_SELF)
    outcome["cpu"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    results.put(outcome)


def _purchase(host: str, user: str, ticket: str | None = None) -> bytes:
    """The shopper's one purchase, on a connection of its own (with its ticket)."""
    headers = None if ticket is None else {"Flash-Sale-Ticket": ticket}
    return json_post(PURCHASE_PATH, host, {"userId": user}, close=True, headers=headers)


async def _release_all(targets: list[tuple[int, str, int, bytes]], at: float) -> dict[str, Any]:
    """Each (host index, host, port, request) sent at `at`, on a new connection."""
    delay = at - time.time()
    if delay > 0:
        await asyncio.sleep(delay)
    sends: list[float] = []

    async def shopper(
        index: int, host: str, port: int, request: bytes
    ) -> tuple[str, tuple[int, float] | None, str]:
        sends.append(time.time() - at)
        try:
            async with asyncio.timeout(ANSWER_TIMEOUT_S):
                status = await _exchange(host, port, request)
        except WIRE_ERRORS as exc:
            return "error", None, f"{type(exc).__name__}: {exc}"[:200]
        return status, (index, time.time() - at), ""

    answers = await asyncio.gather(*(shopper(*target) for target in targets))
    return {
        "codes": dict(Counter(status for status, _, _ in answers)),
        "latencies": [latency for _, latency, _ in answers if latency is not None],
        "sends": sends,
        "errors": [error for _, _, error in answers if error][:10],
    }


async def _exchange(host: str, port: int, request: bytes) -> str:
    """One request on a new connection; the answer's status code."""
    connection = await connect(host, port)
    try:
        return str((await connection.exchange(request)).status)
    finally:
        connection.close()


def _ms(latencies_s: list[float], fraction: float) -> float | None:
    value = percentile(sorted(latencies_s), fraction)
    return None if value is None else round(value * 1000, 1)
