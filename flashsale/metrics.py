"""Request metrics: each process counts into its own shared-memory row; readers sum.

No lock is shared between processes, and none is needed within one: a row's
only writer is its worker's event loop thread (the slots module describes the
layout).
"""

from __future__ import annotations

import time
from bisect import bisect_left
from dataclasses import dataclass

from flashsale.outcomes import Outcome
from flashsale.shm.slots import (
    BUCKETS,
    IN_FLIGHT,
    LATENCY_BOUNDS_US,
    LATENCY_MAX,
    LATENCY_SUM,
    OPEN_STREAMS,
    OUTCOMES,
    REQUESTS,
    RING,
    RING_ENTRY_WORDS,
    RING_SECONDS,
    Endpoint,
    ProcessSlots,
)

THROUGHPUT_WINDOW_S = 10


class MetricsRecorder:
    def __init__(self, row: memoryview | None) -> None:
        self._row = row

    def record(self, endpoint: Endpoint, outcome: Outcome | None, latency_us: int) -> None:
        row = self._row
        if row is None:
            return
        is_purchase = endpoint is Endpoint.PURCHASE
        row[REQUESTS + endpoint] += 1
        if outcome is not None:
            row[OUTCOMES + outcome] += 1
        if is_purchase:
            row[BUCKETS + bisect_left(LATENCY_BOUNDS_US, latency_us)] += 1
            row[LATENCY_SUM] += latency_us
            if latency_us > row[LATENCY_MAX]:
                row[LATENCY_MAX] = latency_us
        ring = self._ring_entry(row)
        row[ring + 1] += 1
        row[ring + 2] += is_purchase

    def count_streams(self, delta: int) -> None:
        """An event stream opened (+1) or closed (-1) on this worker."""
        if self._row is not None:
            self._row[OPEN_STREAMS] += delta

    def count_failure(self) -> None:
        """The allocator failed a purchase (no reply in time): the breaker counts these."""
        row = self._row
        if row is None:
            return
        row[self._ring_entry(row) + 3] += 1

    @staticmethod
    def _ring_entry(row: memoryview) -> int:
        """This second's ring entry, cleared when it is first used."""
        second = int(time.time())
        entry = RING + RING_ENTRY_WORDS * (second % RING_SECONDS)
        if row[entry] != second:
            row[entry + 1] = row[entry + 2] = row[entry + 3] = 0
            row[entry] = second
        return entry


def failures_since(slots: ProcessSlots, since_s: float, window_s: int) -> int:
    """Allocator failures counted by all workers in the last `window_s` seconds after `since_s`."""
    now = int(time.time())
    first = max(now - window_s + 1, int(since_s) + 1)
    total = 0
    for row in slots.all_rows():
        for i in range(RING_SECONDS):
            entry = RING + RING_ENTRY_WORDS * i
            if first <= row[entry] <= now:
                total += row[entry + 3]
    return total


@dataclass(frozen=True)
class MetricsSnapshot:
    requests: dict[Endpoint, int]
    outcomes: dict[Outcome, int]
    buckets: list[int]
    latency_sum_us: int
    latency_max_us: int
    in_flight: int
    open_streams: int
    requests_per_s: float
    purchases_per_s: float

    @classmethod
    def read(cls, slots: ProcessSlots) -> MetricsSnapshot:
        rows = slots.all_rows()
        now = int(time.time())
        window = range(now - THROUGHPUT_WINDOW_S, now)  # complete seconds only
        recent_requests = recent_purchases = 0
        for row in rows:
            for i in range(RING_SECONDS):
                base = RING + RING_ENTRY_WORDS * i
                if row[base] in window:
                    recent_requests += row[base + 1]
                    recent_purchases += row[base + 2]
        return cls(
            requests={e: sum(r[REQUESTS + e] for r in rows) for e in Endpoint},
            outcomes={o: sum(r[OUTCOMES + o] for r in rows) for o in Outcome},
            buckets=[sum(r[BUCKETS + i] for r in rows) for i in range(len(LATENCY_BOUNDS_US) + 1)],
            latency_sum_us=sum(r[LATENCY_SUM] for r in rows),
            latency_max_us=max(r[LATENCY_MAX] for r in rows),
            in_flight=max(sum(r[IN_FLIGHT] for r in rows), 0),
            open_streams=max(sum(r[OPEN_STREAMS] for r in rows), 0),
            requests_per_s=recent_requests / THROUGHPUT_WINDOW_S,
            purchases_per_s=recent_purchases / THROUGHPUT_WINDOW_S,
        )

    @property
    def purchases(self) -> int:
        return self.requests[Endpoint.PURCHASE]

    def latency_percentile_ms(self, fraction: float) -> float:
        """Upper bound of the bucket holding the given fraction of purchases (max for the last)."""
        total = sum(self.buckets)
        if total == 0:
            return 0.0
        rank = fraction * total
        seen = 0
        for i, count in enumerate(self.buckets):
            seen += count
            if seen >= rank and count:
                bound = LATENCY_BOUNDS_US[i] if i < len(LATENCY_BOUNDS_US) else self.latency_max_us
                return min(bound, self.latency_max_us) / 1000
        return self.latency_max_us / 1000
