"""Process slots: one row of counters per gunicorn worker, summed by readers.

Each worker owns one row while it lives, so its counters have a single writer
(the worker's event loop thread, see `flashsale.metrics`). The master hands out
rows before it forks a worker and, when the worker has exited, folds the row
into the `retired` row and frees it, so totals survive worker restarts.

Row layout (int64 words; NUM_ROWS worker rows followed by one retired row):

  word                       field           writer
  0                          state           master   FREE / IN_USE
  1                          pid             worker   (once, when it starts)
  2                          in_flight       worker   requests sent, not yet answered
  3                          open_streams    worker   event streams (live pages) it serves
  4 .. 4+E                   requests        worker   per endpoint (Endpoint)
  .. +O                      outcomes        worker   per purchase outcome (Outcome)
  .. +B                      latency buckets worker   purchase latency histogram
  .. +1                      latency_sum_us  worker
  .. +1                      latency_max_us  worker
  .. +4*RING                 per-second ring worker   (epoch second, requests, purchases,
                                                       allocator failures)
"""

from __future__ import annotations

from enum import IntEnum

from flashsale.outcomes import Outcome
from flashsale.shm.segment import Words

NUM_ROWS = 128
FREE, IN_USE = 0, 1

# Upper bounds of the purchase latency buckets, in microseconds, a decade a row; the
# last is +inf.
LATENCY_BOUNDS_US = (
    *(100, 200, 300, 500, 750),
    *(1_000, 1_500, 2_000, 3_000, 5_000, 7_500),
    *(10_000, 15_000, 20_000, 30_000, 50_000, 75_000),
    *(100_000, 150_000, 200_000, 300_000, 500_000, 750_000),
    *(1_000_000, 1_500_000, 2_000_000, 3_000_000, 5_000_000, 10_000_000),
)
RING_SECONDS = 64


class Endpoint(IntEnum):
    PURCHASE = 0
    LOOKUP = 1
    STATUS = 2
    OPERATOR = 3  # metrics, health, /metrics, admin
    UI = 4
    OTHER = 5
    EVENTS = 6  # event streams opened


STATE, PID, IN_FLIGHT, OPEN_STREAMS = 0, 1, 2, 3
REQUESTS = 4
OUTCOMES = REQUESTS + len(Endpoint)
BUCKETS = OUTCOMES + len(Outcome)
LATENCY_SUM = BUCKETS + len(LATENCY_BOUNDS_US) + 1
LATENCY_MAX = LATENCY_SUM + 1
RING = LATENCY_MAX + 1
RING_ENTRY_WORDS = 4
ROW_WORDS = RING + RING_ENTRY_WORDS * RING_SECONDS
# Words folded into the retired row when a worker exits: the cumulative ones.
CUMULATIVE = range(REQUESTS, LATENCY_SUM + 1)


class ProcessSlots:
    def __init__(self) -> None:
        self._words = Words((NUM_ROWS + 1) * ROW_WORDS)
        self.retired = NUM_ROWS

    def row(self, slot: int) -> memoryview:
        return self._words.row(slot * ROW_WORDS, ROW_WORDS)

    # -- the master's side ----------------------------------------------------
    def claim(self, pid: int = 0) -> int | None:
        """Give a free row to a worker about to be forked; None when all are taken."""
        for slot in range(NUM_ROWS):
            row = self.row(slot)
            if row[STATE] == FREE:
                for i in range(ROW_WORDS):
                    row[i] = 0
                row[PID] = pid
                row[STATE] = IN_USE
                return slot
        return None

    def set_pid(self, slot: int, pid: int) -> None:
        self.row(slot)[PID] = pid

    def release(self, slot: int) -> None:
        """Fold an exited worker's totals into the retired row, then free its row."""
        row, retired = self.row(slot), self.row(self.retired)
        for i in CUMULATIVE:
            retired[i] += row[i]
        retired[LATENCY_MAX] = max(retired[LATENCY_MAX], row[LATENCY_MAX])
        for i in range(ROW_WORDS):
            row[i] = 0
        row[STATE] = FREE

    # -- readers ----------------------------------------------------------------
    def in_flight_total(self) -> int:
        """Purchases sent to the allocator and not yet answered: the queue's depth.

        Free and retired rows hold 0 here, so every row is summed without
        looking at its state (a strided view: cheap enough for each purchase).
        """
        return max(sum(self._words.view[IN_FLIGHT::ROW_WORDS].tolist()), 0)

    def live_slots(self) -> list[int]:
        return [s for s in range(NUM_ROWS) if self.row(s)[STATE] == IN_USE]

    def live_pids(self) -> list[int]:
        """Pids of the workers that have started; a row claimed for a worker
        being forked has no pid yet and is left out."""
        return [pid for s in self.live_slots() if (pid := self.row(s)[PID])]

    def all_rows(self) -> list[memoryview]:
        """Live rows and the retired row: everything a total must sum."""
        return [self.row(s) for s in self.live_slots()] + [self.row(self.retired)]
