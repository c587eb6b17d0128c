"""The ceiling's Python load generator: closed loops over `http.client` keep-alive
connections, spread over a few client processes (the `multiprocess` package),
all started at one wall-clock instant and stopped at one deadline."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from stress.api import JSON_HEADERS, PURCHASE_PATH, STATUS_PATH
from stress.client.kept_connection import KeptConnection, SharedTally, Tally
from stress.client.release import READY_TIMEOUT_S, STARTED, PhaseGate, release_together
from stress.runs import new_run_id, raise_nofile_limit


@dataclass
class LoopOutcome:
    seconds: float
    codes: dict[str, int]
    errors: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None


def run_python_loops(
    url: str, target: str, connections: int, seconds: float, processes: int
) -> LoopOutcome:
    raise_nofile_limit()
    processes = max(1, min(processes, connections))
    shares = [connections // processes + (i < connections % processes) for i in range(processes)]
    prefix = f"c{new_run_id()}"
    parts = release_together(
        loop_process,
        [(url, target, share, seconds, f"{prefix}-{i}") for i, share in enumerate(shares)],
        work_timeout_s=seconds + READY_TIMEOUT_S,
        what="ceiling",
    )
    total = Tally()
    for codes, latencies, errors in parts:
        total.add(Tally(Counter(codes), latencies, errors))
    p50_ms, p99_ms, max_ms = total.milliseconds()
    return LoopOutcome(seconds, dict(total.codes), total.errors, p50_ms, p99_ms, max_ms)


def loop_process(
    index: int,
    url: str,
    target: str,
    connections: int,
    seconds: float,
    prefix: str,
    gate: PhaseGate,
    result_queue: Any,
) -> None:
    """One client process: `connections` threads, one keep-alive connection each.

    Only answers received inside [start, start + seconds] count."""
    raise_nofile_limit()
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    total = SharedTally()
    release = threading.Event()
    bounds: list[float] = []

    def loop(thread_index: int) -> None:
        connection = KeptConnection(host, port)
        tally = Tally()
        release.wait()
        start, stop = bounds
        _sleep_until(start)
        counter = 0
        while time.time() < stop:
            counter += 1
            began = time.perf_counter()
            if target == "status":
                status = connection.request("GET", STATUS_PATH)
            else:
                body = json.dumps({"userId": f"{prefix}-{thread_index}-{counter}"})
                status = connection.request("POST", PURCHASE_PATH, body, JSON_HEADERS)
            if status is None:
                tally.errors += 1
            elif time.time() <= stop:
                tally.answered(status, time.perf_counter() - began)
        connection.close()
        total.add(tally)

    threads = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(connections)]
    for thread in threads:
        thread.start()
    gate.report(index, STARTED)
    release_ns = gate.release_ns()
    if release_ns is None:
        return  # the parent gave up on the run
    start = release_ns / 1e9
    bounds.extend((start, start + seconds))
    release.set()
    for thread in threads:
        thread.join(seconds + READY_TIMEOUT_S)
    result_queue.put((dict(total.codes), total.latencies, total.errors))


def _sleep_until(moment: float) -> None:
    delay = moment - time.time()
    if delay > 0:
        time.sleep(delay)
