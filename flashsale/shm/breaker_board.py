"""The circuit breaker's shared state: one state for every worker.

Layout (int64 words):

  word  field               notes
  0     state               CLOSED / OPEN / HALF_OPEN; read lock-free on every purchase
  1     since_us            wall-clock time of the last transition
  2     since_ns            CLOCK_MONOTONIC time of the last transition (cool-downs)
  3     trips               times the breaker opened
  4     probes_left         purchases half-open may still let through
  5     reason              why it last opened (REASONS)
  6     saturated_since_ns  when the queue was first seen full (0: not full)

Writers: any worker, but only while holding the breaker's RangeLocks lock, so
there is one writer at a time and a killed writer releases it. Readers take no
lock; a reader may act on a state a moment old, which is what a breaker does anyway.
"""

from __future__ import annotations

from flashsale.shm.segment import Words

CLOSED, OPEN, HALF_OPEN = 0, 1, 2
STATE_NAMES = {CLOSED: "closed", OPEN: "open", HALF_OPEN: "half_open"}
REASONS = {
    0: None,
    1: "reply failures",
    2: "allocator silent",
    3: "queue saturated",
    4: "probe failed",
    5: "journal cannot be written",
    6: "Redis cannot be reached",
}
STATE, SINCE_US, SINCE_NS, TRIPS, PROBES_LEFT, REASON, SATURATED_SINCE_NS = range(7)


class BreakerBoard:
    def __init__(self) -> None:
        self.words = Words(7)
