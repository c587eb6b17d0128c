"""Purchases at a steady rate, for measuring what something else costs the shoppers
served meanwhile (`python -m stress export`).

`connections` keep-alive `http.client` connections, a thread each, in one client
process, share `rate` purchases a second, each by a new user: connection i sends
its k-th at start + (k * connections + i) / rate. A purchase's latency counts from
that scheduled instant, not from when it was sent: a connection still waiting
for its previous answer sends late, and the wait is counted (a closed loop would
send fewer purchases while the server is slow and hide it, "coordinated
omission"). The rate is kept well under what the server can take, so latency
reflects the work the server does alongside, not a queue of purchases.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from stress.api import JSON_HEADERS, PURCHASE_PATH
from stress.client.kept_connection import KeptConnection, SharedTally, Tally


@dataclass
class PacedOutcome:
    seconds: float
    rate: float  # asked for, a second
    codes: dict[str, int]
    errors: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None

    @property
    def sent(self) -> int:
        return sum(self.codes.values()) + self.errors


def paced_purchases(
    url: str, *, rate: float, connections: int, seconds: float, prefix: str
) -> PacedOutcome:
    """`rate` purchases a second for `seconds` (blocking); users are `prefix`-i-k."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    interval_s = connections / rate
    start = time.perf_counter() + 0.2  # every connection opened before the first send
    stop = start + seconds
    total = SharedTally()

    def loop(index: int) -> None:
        connection = KeptConnection(host, port)
        connection.connect()
        tally = Tally()
        due = start + index / rate
        count = 0
        while due < stop:
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            count += 1
            body = json.dumps({"userId": f"{prefix}-{index}-{count}"})
            status = connection.request("POST", PURCHASE_PATH, body, JSON_HEADERS)
            if status is None:
                tally.errors += 1
            else:
                tally.answered(status, time.perf_counter() - due)
            due += interval_s
        connection.close()
        total.add(tally)

    threads = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 60)
    p50_ms, p99_ms, max_ms = total.milliseconds()
    return PacedOutcome(seconds, rate, dict(total.codes), total.errors, p50_ms, p99_ms, max_ms)


def outcome_json(outcome: PacedOutcome) -> dict[str, Any]:
    return {
        "seconds": outcome.seconds,
        "rate": outcome.rate,
        "sent": outcome.sent,
        "codes": outcome.codes,
        "errors": outcome.errors,
        "p50Ms": outcome.p50_ms,
        "p99Ms": outcome.p99_ms,
        "maxMs": outcome.max_ms,
    }
