"""Process slots: one row of counters per gunicorn worker, summed by readers.

Each worker owns one row while it lives, so its counters have a single writer
(the worker's event loop thread, see `flashsale.metrics`). The master hands out
rows before it forks a worker and, when the worker has exited, folds the row
into the `retired` row and frees it, so totals survive worker restarts.

Row layout (int64 words; NUM_ROWS worker rows followed by one retired row):

  word                       field            writer
  0                          state            master   FREE / IN_USE
  1                          pid              worker   (once, when it starts)
  2                          in_flight        worker   requests sent, not yet answered
  3                          open_streams     worker   event streams (live pages) it serves
  4 .. 4+E                   requests         worker   per endpoint (Endpoint)
  .. +O                      outcomes         worker   per purchase outcome (Outcome)
  .. +B                      latency buckets  worker   purchase latency histogram
  .. +1                      latency_sum_us   worker
  .. +A*K                    admin actions    worker   per (ADMIN_ACTIONS, ADMIN_OUTCOMES)
  .. +1                      latency_max_us   worker
  .. +1                      queue_peak       worker   most requests in flight on all rows at
                                                       once, as this worker saw it
  .. +1                      sale_id          worker   the sale the next words count for
  .. +O                      sale outcomes    worker   (0: none), from zero when the worker
  .. +1                      sale_queue_peak  worker   first counts for a newer sale
  .. +4*RING                 per-second ring  worker   (epoch second, requests, purchases,
                                                        allocator failures)

After the rows, one word: rows_used (master), one past the highest row ever
claimed. Every row from there on has never held a worker: the in-flight sum
read on each purchase stops there (a few rows, not NUM_ROWS).

The sale block's reset is one writer's protocol, read without a lock: the
writer sets sale_id to RESETTING, zeroes the block, then sets the new id; a
reader takes the block only if it read the same current id before and after it
(`sale_block`). Like the sale board's seqlock, this relies on the stores
becoming visible in program order (x86-64). The retired row's sale block keeps
the newest sale's counts of the workers that exited (written by the master).
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


# The kinds of admin action counted (the audit trail's `action`), and the outcomes
# an admin request can have: "ok", or the type of the problem it was answered with.
# Anything else is counted as "other": the table is a fixed block of each row.
ADMIN_ACTIONS = ("create", "replace", "pause", "resume", "end", "set_end", "refused", "other")
ADMIN_OUTCOMES = (
    "ok",
    # Bad input and the wrong caller (flashsale.api.problems).
    *("invalid-json", "invalid-body", "invalid-sale", "invalid-idempotency-key"),
    *("invalid-parameter", "bad-request", "unsupported-media-type"),
    *("payload-too-large", "token-required", "invalid-token", "too-many-wrong-tokens"),
    *("not-found", "method-not-allowed"),
    # The sale's lifecycle refusing a change (issue 23's admin API).
    *("sale-in-progress", "sale-not-current", "sale-already-ended", "precondition-failed"),
    "idempotency-key-reused",
    # Nothing could be decided.
    *("unavailable", "not-selling", "starting", "internal-error"),
    "other",
)

STATE, PID, IN_FLIGHT, OPEN_STREAMS = 0, 1, 2, 3
REQUESTS = 4
OUTCOMES = REQUESTS + len(Endpoint)
BUCKETS = OUTCOMES + len(Outcome)
LATENCY_SUM = BUCKETS + len(LATENCY_BOUNDS_US) + 1
ADMIN = LATENCY_SUM + 1
LATENCY_MAX = ADMIN + len(ADMIN_ACTIONS) * len(ADMIN_OUTCOMES)
QUEUE_PEAK = LATENCY_MAX + 1
SALE_ID = QUEUE_PEAK + 1
SALE_OUTCOMES = SALE_ID + 1
SALE_QUEUE_PEAK = SALE_OUTCOMES + len(Outcome)
RING = SALE_QUEUE_PEAK + 1
RING_ENTRY_WORDS = 4
ROW_WORDS = RING + RING_ENTRY_WORDS * RING_SECONDS
# Words folded into the retired row when a worker exits: the cumulative ones.
CUMULATIVE = range(REQUESTS, LATENCY_MAX)
# The sale block: its words after the id.
SALE_BLOCK = range(SALE_OUTCOMES, SALE_QUEUE_PEAK + 1)
NO_SALE, RESETTING = 0, -1


_ACTION_PLACES = {action: place for place, action in enumerate(ADMIN_ACTIONS)}
_OUTCOME_PLACES = {outcome: place for place, outcome in enumerate(ADMIN_OUTCOMES)}


def admin_index(action: str, outcome: str) -> int:
    """The word counting `action` answered with `outcome` ("ok" or a problem type)."""
    a = _ACTION_PLACES.get(action, len(ADMIN_ACTIONS) - 1)
    o = _OUTCOME_PLACES.get(outcome, len(ADMIN_OUTCOMES) - 1)
    return ADMIN + a * len(ADMIN_OUTCOMES) + o


def sale_block(row: memoryview, sale_id: int) -> list[int] | None:
    """The row's sale block (outcomes, then the queue peak) if it counts `sale_id`.

    Read between two reads of the id: a block being reset for another sale is
    never taken for this one's.
    """
    if row[SALE_ID] != sale_id:
        return None
    block = row[SALE_OUTCOMES : SALE_QUEUE_PEAK + 1].tolist()
    return block if row[SALE_ID] == sale_id else None


def start_sale_block(row: memoryview, sale_id: int) -> None:
    """Count the row's sale block for `sale_id` from zero (its one writer only)."""
    row[SALE_ID] = RESETTING  # first: readers now skip the block
    for i in SALE_BLOCK:
        row[i] = 0
    row[SALE_ID] = sale_id


class ProcessSlots:
    def __init__(self) -> None:
        self._rows_used = (NUM_ROWS + 1) * ROW_WORDS
        self._words = Words(self._rows_used + 1)
        self.retired = NUM_ROWS
        # Each worker row's in_flight word, as one strided view.
        self._in_flight = self._words.view[IN_FLIGHT : NUM_ROWS * ROW_WORDS : ROW_WORDS]

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
                # Before the worker is forked, so before it can count anything.
                self._words[self._rows_used] = max(self._words[self._rows_used], slot + 1)
                return slot
        return None

    def set_pid(self, slot: int, pid: int) -> None:
        self.row(slot)[PID] = pid

    def release(self, slot: int) -> None:
        """Fold an exited worker's totals into the retired row, then free its row."""
        row, retired = self.row(slot), self.row(self.retired)
        for i in CUMULATIVE:
            retired[i] += row[i]
        for i in (LATENCY_MAX, QUEUE_PEAK):
            retired[i] = max(retired[i], row[i])
        # The newest sale's block is kept: sale ids only grow, and a block of an
        # older sale than the retired row's counts a sale that is over.
        sale_id = row[SALE_ID]
        if sale_id > retired[SALE_ID]:
            start_sale_block(retired, sale_id)
        if sale_id == retired[SALE_ID] != NO_SALE:
            for i in range(SALE_OUTCOMES, SALE_QUEUE_PEAK):
                retired[i] += row[i]
            retired[SALE_QUEUE_PEAK] = max(retired[SALE_QUEUE_PEAK], row[SALE_QUEUE_PEAK])
        for i in range(ROW_WORDS):
            row[i] = 0
        row[STATE] = FREE

    # -- readers ----------------------------------------------------------------
    def in_flight_total(self) -> int:
        """Purchases sent to the allocator and not yet answered: the queue's depth.

        Free rows hold 0 here, so the rows ever used are summed without looking
        at their state (a strided view: cheap enough for each purchase, and read
        twice by one: the admission check, and the queue's high-water mark).
        """
        used = self._words.view[self._rows_used]
        return max(sum(self._in_flight[:used].tolist()), 0)

    def live_slots(self) -> list[int]:
        return [s for s in range(NUM_ROWS) if self.row(s)[STATE] == IN_USE]

    def live_pids(self) -> list[int]:
        """Pids of the workers that have started; a row claimed for a worker
        being forked has no pid yet and is left out."""
        return [pid for s in self.live_slots() if (pid := self.row(s)[PID])]

    def all_rows(self) -> list[memoryview]:
        """Live rows and the retired row: everything a total must sum."""
        return [self.row(s) for s in self.live_slots()] + [self.row(self.retired)]
