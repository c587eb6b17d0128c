"""Request metrics: each process counts into its own shared-memory row; readers sum.

No lock is shared between processes, and none is needed within one: a row's
only writer is its worker's event loop thread (the slots module describes the
layout).

Two figures are not sums. The queue's high-water mark: each worker, as it
sends a request to the allocator, sums every row's in-flight count (the same
read the admission check makes) and keeps the largest sum it has seen in its
own row; readers take the largest over the rows. A max of each row's own
in-flight maximum would understate the peak of the sum (two workers' peaks
apart in time), and their sum would overstate it. The rows are read one by one
without a lock, so a peak may be off by the few requests that came or went
during that read of a microsecond or two; and it is sampled when a request
joins, which is when the sum can reach a new high. The current sale's figures:
each row counts its outcomes and its peak for one sale id, from zero when its
worker first counts for a newer sale; readers add up the rows whose sale id is
the current sale's.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from flashsale.outcomes import Outcome
from flashsale.shm.sale_board import SaleBoard
from flashsale.shm.slots import (
    ADMIN,
    ADMIN_ACTIONS,
    ADMIN_OUTCOMES,
    BUCKETS,
    IN_FLIGHT,
    LATENCY_BOUNDS_US,
    LATENCY_MAX,
    LATENCY_SUM,
    NO_SALE,
    OPEN_STREAMS,
    OUTCOMES,
    QUEUE_PEAK,
    REQUESTS,
    RING,
    RING_ENTRY_WORDS,
    RING_SECONDS,
    SALE_ID,
    SALE_OUTCOMES,
    SALE_QUEUE_PEAK,
    Endpoint,
    ProcessSlots,
    admin_index,
    sale_block,
    start_sale_block,
)

THROUGHPUT_WINDOW_S = 10


def _no_sale() -> int:
    return NO_SALE


class MetricsRecorder:
    """What a worker counts, into its own row (None: counts nothing).

    `queue_depth` sums the in-flight counts of every row (ProcessSlots.in_flight_total),
    and `sale_id` reads the current sale's id (`current_sale_id`).
    """

    def __init__(
        self,
        row: memoryview | None,
        *,
        queue_depth: Callable[[], int] | None = None,
        sale_id: Callable[[], int] = _no_sale,
    ) -> None:
        self._row = row
        self._queue_depth = queue_depth
        self._sale_id = sale_id

    def record(self, endpoint: Endpoint, outcome: Outcome | None, latency_us: int) -> None:
        row = self._row
        if row is None:
            return
        is_purchase = endpoint is Endpoint.PURCHASE
        row[REQUESTS + endpoint] += 1
        if outcome is not None:
            row[OUTCOMES + outcome] += 1
            self._follow_sale(row)
            row[SALE_OUTCOMES + outcome] += 1
        if is_purchase:
            row[BUCKETS + bisect_left(LATENCY_BOUNDS_US, latency_us)] += 1
            row[LATENCY_SUM] += latency_us
            if latency_us > row[LATENCY_MAX]:
                row[LATENCY_MAX] = latency_us
        ring = self._ring_entry(row)
        row[ring + 1] += 1
        row[ring + 2] += is_purchase

    def queue_entered(self) -> None:
        """A request was sent to the allocator: it waits until `queue_left`."""
        row = self._row
        if row is None:
            return
        row[IN_FLIGHT] += 1
        depth = row[IN_FLIGHT] if self._queue_depth is None else self._queue_depth()
        if depth > row[QUEUE_PEAK]:
            row[QUEUE_PEAK] = depth
        self._follow_sale(row)
        if depth > row[SALE_QUEUE_PEAK]:
            row[SALE_QUEUE_PEAK] = depth

    def queue_left(self) -> None:
        """A request's answer came (or it gave up waiting)."""
        if self._row is not None:
            self._row[IN_FLIGHT] -= 1

    def record_admin(self, action: str, outcome: str) -> None:
        """An admin request of kind `action` (ADMIN_ACTIONS) was answered: `outcome` is
        "ok" or the type of the problem it got (its slug, e.g. "sale-in-progress").
        Names the table does not list are counted as "other"."""
        if self._row is not None:
            self._row[admin_index(action, outcome)] += 1

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

    def _follow_sale(self, row: memoryview) -> None:
        """Point the row's sale block at the current sale, from zero if it is new."""
        sale_id = self._sale_id()
        if row[SALE_ID] != sale_id:
            start_sale_block(row, sale_id)

    @staticmethod
    def _ring_entry(row: memoryview) -> int:
        """This second's ring entry, cleared when it is first used."""
        second = int(time.time())
        entry = RING + RING_ENTRY_WORDS * (second % RING_SECONDS)
        if row[entry] != second:
            row[entry + 1] = row[entry + 2] = row[entry + 3] = 0
            row[entry] = second
        return entry


def current_sale_id(board: SaleBoard) -> Callable[[], int]:
    """A reader of the current sale's id (NO_SALE before the first), for the recorder."""

    def read() -> int:
        sale = board.sale()  # the reader's cached snapshot while nothing changed
        return NO_SALE if sale is None else sale.sale_id

    return read


def success_rate(outcomes: Mapping[Outcome, int]) -> float:
    """Purchases won (confirmed, or held for checkout) among those decided (bad input is
    not a decision): a hold is the purchase answer's success, its checkout comes later."""
    decided = sum(outcomes.values()) - outcomes[Outcome.INVALID]
    won = outcomes[Outcome.CONFIRMED] + outcomes[Outcome.HELD]
    return round(won / decided, 4) if decided else 0.0


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
class SaleFigures:
    """What the workers counted for one sale: its outcomes and its queue's peak."""

    sale_id: int
    outcomes: dict[Outcome, int]
    queue_peak: int

    @classmethod
    def read(cls, rows: list[memoryview], sale_id: int) -> SaleFigures:
        outcomes = dict.fromkeys(Outcome, 0)
        queue_peak = 0
        for row in rows:
            block = sale_block(row, sale_id)
            if block is None:  # another sale's, or being reset for a newer one
                continue
            for outcome in Outcome:
                outcomes[outcome] += block[outcome]
            queue_peak = max(queue_peak, block[SALE_QUEUE_PEAK - SALE_OUTCOMES])
        return cls(sale_id, outcomes, queue_peak)


@dataclass(frozen=True)
class MetricsSnapshot:
    requests: dict[Endpoint, int]
    outcomes: dict[Outcome, int]
    buckets: list[int]
    latency_sum_us: int
    latency_max_us: int
    in_flight: int
    queue_peak: int
    open_streams: int
    requests_per_s: float
    purchases_per_s: float
    # Admin requests answered, by (action, outcome): only the pairs counted.
    admin_actions: dict[tuple[str, str], int]
    sale: SaleFigures | None  # the current sale's, when there is one

    @classmethod
    def read(cls, slots: ProcessSlots, sale_id: int | None = None) -> MetricsSnapshot:
        """The figures summed over the rows; `sale_id`: the current sale's."""
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
        admin = [0] * (LATENCY_MAX - ADMIN)
        for row in rows:
            for i, count in enumerate(row[ADMIN:LATENCY_MAX].tolist()):
                admin[i] += count
        width = len(ADMIN_OUTCOMES)
        return cls(
            requests={e: sum(r[REQUESTS + e] for r in rows) for e in Endpoint},
            outcomes={o: sum(r[OUTCOMES + o] for r in rows) for o in Outcome},
            buckets=[sum(r[BUCKETS + i] for r in rows) for i in range(len(LATENCY_BOUNDS_US) + 1)],
            latency_sum_us=sum(r[LATENCY_SUM] for r in rows),
            latency_max_us=max(r[LATENCY_MAX] for r in rows),
            in_flight=max(sum(r[IN_FLIGHT] for r in rows), 0),
            queue_peak=max(r[QUEUE_PEAK] for r in rows),
            open_streams=max(sum(r[OPEN_STREAMS] for r in rows), 0),
            requests_per_s=recent_requests / THROUGHPUT_WINDOW_S,
            purchases_per_s=recent_purchases / THROUGHPUT_WINDOW_S,
            admin_actions={
                (ADMIN_ACTIONS[i // width], ADMIN_OUTCOMES[i % width]): count
                for i, count in enumerate(admin)
                if count
            },
            sale=None if sale_id is None else SaleFigures.read(rows, sale_id),
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
