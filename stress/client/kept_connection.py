"""What the Python load loops share: a keep-alive `http.client` connection that reopens
after a failure, and the tally of one thread's answers, merged into its process's.

Used by the ceiling's closed loops (loops.py), the paced purchases (paced.py) and
the fill (fill.py), which differ in when they send and what they do with an answer.
"""

from __future__ import annotations

import http.client
import threading
from collections import Counter
from dataclasses import dataclass, field

from stress.stats import percentile

CONNECT_TIMEOUT_S = 10.0


class KeptConnection:
    """One keep-alive connection to `host:port`; a request that fails closes it, and
    the next request opens a new one."""

    def __init__(self, host: str, port: int, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self._connection = http.client.HTTPConnection(host, port, timeout=timeout_s)

    def connect(self) -> None:
        self._connection.connect()

    def request(
        self, method: str, path: str, body: str | None = None, headers: dict[str, str] | None = None
    ) -> int | None:
        """The answer's status, its body read; None when the request failed."""
        try:
            self._connection.request(method, path, body=body, headers=headers or {})
            answer = self._connection.getresponse()
            answer.read()
        except (OSError, http.client.HTTPException):
            self._connection.close()
            self._connection = http.client.HTTPConnection(
                self.host, self.port, timeout=self.timeout_s
            )
            return None
        return answer.status

    def close(self) -> None:
        self._connection.close()


@dataclass
class Tally:
    """Answers by status, their latencies (s) and failed requests: one thread's, or the
    sum of several."""

    codes: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    errors: int = 0

    def answered(self, status: int, latency_s: float) -> None:
        self.codes[str(status)] += 1
        self.latencies.append(latency_s)

    def add(self, other: Tally) -> None:
        self.codes.update(other.codes)
        self.latencies.extend(other.latencies)
        self.errors += other.errors

    def milliseconds(self) -> tuple[float | None, float | None, float | None]:
        """p50, p99 and the slowest, in ms (None without answers)."""
        ordered = sorted(self.latencies)
        return (
            _ms(percentile(ordered, 0.5)),
            _ms(percentile(ordered, 0.99)),
            _ms(ordered[-1] if ordered else None),
        )


class SharedTally(Tally):
    """A process's total, which its threads add their own tallies to once done."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def add(self, other: Tally) -> None:
        with self._lock:
            super().add(other)


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 2)
