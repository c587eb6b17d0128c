"""Exactly `orders` real purchases through the API, as fast as the server takes them:
a sale filled with orders the allocator itself decided and recorded
(`python -m stress export`).

Spread over a few client processes (spawned), each running keep-alive
`http.client` connections on threads, connection i of process p buying for the
users `prefix-p-i-1`, `prefix-p-i-2`... in turn, one unit each. A purchase
refused for a moment (503 with Retry-After: the queue is full, 429) is tried
again for the same user after a short wait, and one whose answer was lost
(a connection error) too: its second answer is 201 or 409 (the first went
through), either way one order. So the sale holds exactly `orders` orders at the
end, or the fill says which users it gave up on.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from urllib.parse import urlsplit

from stress.api import JSON_HEADERS, PURCHASE_PATH
from stress.client.kept_connection import KeptConnection

CONNECT_TIMEOUT_S = 30.0
RETRY_WAIT_S = 0.05
ATTEMPTS = 20
# An order: 201 now, or 409 (already bought: an earlier attempt whose answer was lost).
ORDERED = frozenset({201, 409})
RETRIED = frozenset({429, 503})


@dataclass
class FillOutcome:
    orders: int  # asked for
    seconds: float
    codes: dict[str, int]  # every answer, retried ones included
    errors: int  # connection errors (each tried again)
    failed: int  # users given up on

    @property
    def per_second(self) -> float:
        return round(self.orders / self.seconds, 1) if self.seconds > 0 else 0.0

    @property
    def exact(self) -> bool:
        return self.failed == 0


def fill_by_purchases(
    url: str, *, orders: int, processes: int, connections: int, prefix: str
) -> FillOutcome:
    """`orders` purchases (blocking): `connections` connections in each of `processes`."""
    lanes = processes * connections
    shares = [orders // lanes + (i < orders % lanes) for i in range(lanes)]
    started = time.perf_counter()
    # Spawned, not forked: the caller may run threads.
    with ProcessPoolExecutor(processes, mp_context=get_context("spawn")) as pool:
        parts = [
            pool.submit(
                _buy_in_process,
                url,
                shares[p * connections : (p + 1) * connections],
                f"{prefix}-{p}",
            )
            for p in range(processes)
        ]
        results = [part.result() for part in parts]
    seconds = time.perf_counter() - started
    codes: Counter[str] = Counter()
    for part_codes, _, _ in results:
        codes.update(part_codes)
    return FillOutcome(
        orders=orders,
        seconds=round(seconds, 2),
        codes=dict(codes),
        errors=sum(errors for _, errors, _ in results),
        failed=sum(failed for _, _, failed in results),
    )


def _buy_in_process(url: str, shares: list[int], prefix: str) -> tuple[dict[str, int], int, int]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    codes: Counter[str] = Counter()
    totals = [0, 0]  # errors, failed
    lock = threading.Lock()

    def lane(index: int, share: int) -> None:
        connection = KeptConnection(host, port, CONNECT_TIMEOUT_S)
        local: Counter[str] = Counter()
        errors = failed = 0
        for k in range(1, share + 1):
            body = json.dumps({"userId": f"{prefix}-{index}-{k}"})
            for _ in range(ATTEMPTS):
                status = connection.request("POST", PURCHASE_PATH, body, JSON_HEADERS)
                if status is None:
                    errors += 1
                    time.sleep(RETRY_WAIT_S)
                    continue
                local[str(status)] += 1
                if status in ORDERED:
                    break
                if status not in RETRIED:
                    failed += 1
                    break
                time.sleep(RETRY_WAIT_S)
            else:
                failed += 1
        connection.close()
        with lock:
            codes.update(local)
            totals[0] += errors
            totals[1] += failed

    threads = [
        threading.Thread(target=lane, args=(i, share), daemon=True)
        for i, share in enumerate(shares)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return dict(codes), totals[0], totals[1]
