"""Which events to try now: in order within each order, concurrently across orders.

Pure logic, no I/O (the sender feeds it the clock). Events of one order share a lane
(an event of no order, `sale.sold_out`, has a lane of its own); only a lane's head
is ever tried, so a failing event holds back the later events of its order and no
other. A failed try is tried again after an exponential backoff with jitter (1 s,
2 s, 4 s ... up to 1 h between tries), until the event is `max_age_us` old: then it
is given up, and its order's next event goes on.
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from flashsale.webhooks.outbox import OutboxRow

FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 3600.0
# Each wait is drawn from [3/4, 5/4] of its step: senders of many failing events do not
# all come back at once (and a restarted receiver is not hit by a wave).
JITTER = 0.25


def backoff_s(attempts: int, uniform: Callable[[float, float], float] = random.uniform) -> float:
    """The wait after the `attempts`-th failed try (1, 2, ...)."""
    step = min(FIRST_BACKOFF_S * 2.0 ** min(attempts - 1, 32), MAX_BACKOFF_S)
    return min(max(step * uniform(1 - JITTER, 1 + JITTER), FIRST_BACKOFF_S), MAX_BACKOFF_S)


@dataclass(frozen=True)
class Failure:
    attempts: int
    next_at_us: int | None  # None: given up


def lane_of(row: OutboxRow) -> str:
    return row.order_id if row.order_id is not None else row.event_id


class Schedule:
    def __init__(
        self,
        *,
        max_age_us: int,
        concurrency: int,
        retries: Mapping[int, tuple[int, int]] | None = None,
        backoff: Callable[[int], float] = backoff_s,
    ) -> None:
        """`retries`: seq -> (attempts, next_at_us) of earlier failures (the durable progress)."""
        self.max_age_us = max_age_us
        self.concurrency = concurrency
        self._backoff = backoff
        self._attempts = {seq: attempts for seq, (attempts, _) in (retries or {}).items()}
        self._next_at = {seq: next_at for seq, (_, next_at) in (retries or {}).items()}
        self._lanes: dict[str, deque[OutboxRow]] = {}
        self._ready: list[tuple[int, int, str]] = []  # (due_us, seq, lane) of lane heads waiting
        self.in_flight = 0
        self.loaded = 0

    def add(self, row: OutboxRow) -> None:
        """An event read from the outbox (in seq order)."""
        lane = self._lanes.get(lane_of(row))
        self.loaded += 1
        if lane is not None:
            lane.append(row)
            return
        self._lanes[lane_of(row)] = deque([row])
        self._wait(row)

    def due(self, now_us: int) -> list[OutboxRow]:
        """Lane heads whose time has come, as many as the free concurrency allows; they are
        in flight until `succeeded` or `failed`."""
        taken = []
        ready = self._ready
        while ready and ready[0][0] <= now_us and self.in_flight < self.concurrency:
            _, _, lane = heapq.heappop(ready)
            taken.append(self._lanes[lane][0])
            self.in_flight += 1
        return taken

    def next_due_us(self) -> int | None:
        """When the next waiting head is due (None: none waits, or no room to send it)."""
        if not self._ready or self.in_flight >= self.concurrency:
            return None
        return self._ready[0][0]

    def succeeded(self, row: OutboxRow) -> None:
        self._finish(row)

    def failed(self, row: OutboxRow, now_us: int) -> Failure:
        """A try failed: when to try again, or given up (the row is then finished)."""
        attempts = self._attempts.get(row.seq, 0) + 1
        give_up_at = row.at_us + self.max_age_us
        if now_us >= give_up_at:
            self._finish(row)
            return Failure(attempts, None)
        self.in_flight -= 1
        self._attempts[row.seq] = attempts
        next_at = min(now_us + int(self._backoff(attempts) * 1e6), give_up_at)
        self._next_at[row.seq] = next_at
        heapq.heappush(self._ready, (next_at, row.seq, lane_of(row)))
        return Failure(attempts, next_at)

    def retrying(self) -> int:
        """Events that failed at least once and wait for their next try."""
        return len(self._attempts)

    def oldest_at_us(self) -> int | None:
        """When the oldest event loaded and not finished happened."""
        heads = (lane[0].at_us for lane in self._lanes.values())
        return min(heads, default=None)

    def _finish(self, row: OutboxRow) -> None:
        self.in_flight -= 1
        self.loaded -= 1
        self._attempts.pop(row.seq, None)
        self._next_at.pop(row.seq, None)
        key = lane_of(row)
        lane = self._lanes[key]
        lane.popleft()
        if lane:
            self._wait(lane[0])
        else:
            del self._lanes[key]

    def _wait(self, head: OutboxRow) -> None:
        heapq.heappush(self._ready, (self._next_at.get(head.seq, 0), head.seq, lane_of(head)))
