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

import http.client
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from stress.api import JSON_HEADERS, PURCHASE_PATH
from stress.stats import percentile

CONNECT_TIMEOUT_S = 10.0


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
    codes: Counter[str] = Counter()
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def loop(index: int) -> None:
        connection = http.client.HTTPConnection(host, port, timeout=CONNECT_TIMEOUT_S)
        connection.connect()
        local_codes: Counter[str] = Counter()
        local_latencies: list[float] = []
        local_errors = 0
        due = start + index / rate
        count = 0
        while due < stop:
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            count += 1
            body = json.dumps({"userId": f"{prefix}-{index}-{count}"})
            try:
                connection.request("POST", PURCHASE_PATH, body=body, headers=JSON_HEADERS)
                answer = connection.getresponse()
                answer.read()
            except (OSError, http.client.HTTPException):
                local_errors += 1
                connection.close()
                connection = http.client.HTTPConnection(host, port, timeout=CONNECT_TIMEOUT_S)
            else:
                local_codes[str(answer.status)] += 1
                local_latencies.append(time.perf_counter() - due)
            due += interval_s
        connection.close()
        with lock:
            codes.update(local_codes)
            latencies.extend(local_latencies)
            errors[0] += local_errors

    threads = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 60)
    latencies.sort()
    return PacedOutcome(
        seconds=seconds,
        rate=rate,
        codes=dict(codes),
        errors=errors[0],
        p50_ms=_ms(percentile(latencies, 0.5)),
        p99_ms=_ms(percentile(latencies, 0.99)),
        max_ms=_ms(latencies[-1] if latencies else None),
    )


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


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 2)
