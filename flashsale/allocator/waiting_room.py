"""A sale's waiting room as the SQLite allocator keeps it: its tickets, the order the
start draws for the pre-queue, and the admissions. Pure logic, no I/O: the loop asks
it each turn (`tick`) and for each join and ticket read, the stock book asks it before
each sale (`admits`), and what it changes goes into the next group commit
(`take_writes`) before anyone hears of it.

- Joining: from `opensAt` until the start, a ticket without a place (the pre-queue);
  after it, the next place, in arrival order. One ticket a person: joining again is
  the same ticket.
- The start: the pre-queue's places are drawn by `secrets.SystemRandom` (or kept in
  arrival order without `shuffle`) and written in one commit; a restart reads them back.
- Admission: a token bucket from the start, `admitPerMinute` a minute (at most a
  second's worth at once, so a pause or an empty queue saves up no burst), or every
  place at once; an admitted ticket may buy for `admittedSeconds`, once.
- Sold out or ended: the queue closes, and nobody more is admitted.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flashsale.clock import iso_from_us
from flashsale.journal import Write
from flashsale.journal_queue import (
    ADMIT,
    INSERT_TICKET,
    PRUNE_PROOFS,
    SAVE_QUEUE,
    SET_PLACE,
    SPEND_PROOF,
    USE,
    QueueRow,
    TicketRow,
)
from flashsale.queue_tickets import Ticket, ticket_text
from flashsale.records import QueueTerms, SaleRecord

# What a ticket's holder is told of it (the API's `state`).
PREQUEUE, WAITING, ADMITTED, USED, LAPSED, CLOSED = (
    "prequeue",
    "waiting",
    "admitted",
    "used",
    "lapsed",
    "closed",
)
# What the queue as a whole is doing (the status's `queue.state`), and its board code.
ROOM_STATES = ("prequeue", "admitting", "closed")
ROOM_PREQUEUE, ROOM_ADMITTING, ROOM_CLOSED = range(3)
# Admissions at a rate happen at most this often, a batch each: each is a write of the
# group commit (an fsync when no purchase shares it), and a page learns of them by steps
# of seconds anyway (flashsale.api.status.queue_tag). The rate is the same on average.
ADMIT_EVERY_US = 250_000
# Longer than a proof-of-work challenge lives (flashsale.api.proof_of_work).
PROOF_KEPT_US = 15 * 60 * 1_000_000


class Seat:
    """One ticket as the allocator keeps it."""

    __slots__ = ("admitted_at_us", "joined_at_us", "number", "place", "used_at_us", "user_id")

    def __init__(self, row: TicketRow) -> None:
        self.number = row.number
        self.user_id = row.user_id
        self.joined_at_us = row.joined_at_us
        self.place = row.place
        self.admitted_at_us = row.admitted_at_us
        self.used_at_us = row.used_at_us


@dataclass(frozen=True)
class Refusal:
    """Why a join was refused: its HTTP status and problem slug."""

    status: int
    problem: str
    detail: str


class WaitingRoom:
    def __init__(
        self,
        sale: SaleRecord,
        key: bytes,
        rows: Iterable[TicketRow] = (),
        stands: QueueRow | None = None,
        rng: secrets.SystemRandom | None = None,
        spent_proofs: dict[str, int] | None = None,
    ) -> None:
        """`rows`, `stands` and `spent_proofs` (proof -> kept until): the room as the
        journal holds it (flashsale.journal_queue)."""
        terms = sale.terms.queue
        if terms is None or sale.terms.starts_at_us is None:
            raise ValueError(f"sale {sale.sale_id} has no waiting room")
        self.terms: QueueTerms = terms
        self.sale_id = sale.sale_id
        self.starts_at_us: int = sale.terms.starts_at_us
        self._key = key
        self._rng = rng or secrets.SystemRandom()
        self._by_number: list[Seat] = []  # by number - 1
        self._by_user: dict[str, Seat] = {}
        self._by_place: list[Seat] = []  # by place - 1
        for row in rows:
            seat = Seat(row)
            self._by_number.append(seat)
            self._by_user[seat.user_id] = seat
        placed = sorted((s for s in self._by_number if s.place is not None), key=_place)
        self._by_place = placed
        stands = stands or QueueRow(None, 0, self.starts_at_us, None)
        self.shuffled_at_us = stands.shuffled_at_us
        self.serving = stands.serving
        self.budget_at_us = stands.budget_at_us
        self.closed_at_us = stands.closed_at_us
        self._writes: list[tuple[str, tuple[object, ...]]] = []
        self.changes = 0  # +1 for each change a page would show
        self._last_admission_us = 0  # when the last batch was admitted (this process)
        # Proof-of-work nonces spent -> kept until (journaled with the join they made).
        self._proofs: dict[str, int] = dict(spent_proofs or {})
        self._proofs_kept = max(len(self._proofs), 1024)

    # -- what the loop asks ------------------------------------------------------------
    def tick(self, now_us: int, *, remaining: int, ended: bool, paused: bool) -> bool:
        """Draw the pre-queue's order at the start, admit whoever is due, close once the
        sale is sold out (no unit `remaining`) or over, so that nobody more is admitted
        to buy nothing. Returns whether anything changed."""
        if self.closed_at_us is not None:
            return False
        if remaining <= 0 or ended:
            self.closed_at_us = now_us
            self._save()
            return True
        changed = False
        if self.shuffled_at_us is None:
            if now_us < self.starts_at_us:
                return False
            self._draw(now_us)
            changed = True
        return self._admit(now_us, paused) or changed

    def next_change_us(self, now_us: int) -> int | None:
        """When `tick` next has something to do without a request (None: nothing)."""
        if self.closed_at_us is not None:
            return None
        if self.shuffled_at_us is None:
            return self.starts_at_us
        if self.serving >= len(self._by_place):
            return None
        rate = self.terms.admit_per_minute
        if rate is None:
            return now_us
        due_us = self.budget_at_us + math.ceil(60_000_000 / rate)
        return max(due_us, self._last_admission_us + ADMIT_EVERY_US)

    def _draw(self, now_us: int) -> None:
        prequeue = [seat for seat in self._by_number if seat.place is None]
        if self.terms.shuffle:
            self._rng.shuffle(prequeue)
        for place, seat in enumerate(prequeue, start=len(self._by_place) + 1):
            seat.place = place
            self._by_place.append(seat)
            self._writes.append((SET_PLACE, (place, self.sale_id, seat.number)))
        self.shuffled_at_us = now_us
        self.budget_at_us = max(self.starts_at_us, min(now_us, self.budget_at_us))
        self._save()

    def _admit(self, now_us: int, paused: bool) -> bool:
        top = len(self._by_place)
        rate = self.terms.admit_per_minute
        if paused or self.serving >= top:
            # Nobody to admit (or the sale paused): the time does not count.
            if self.budget_at_us < now_us and rate is not None:
                self.budget_at_us = now_us
            return False
        if rate is None:
            count = top - self.serving
        else:
            if now_us < self._last_admission_us + ADMIT_EVERY_US:
                return False  # the next batch is due then (next_change_us)
            interval_us = 60_000_000 / rate
            most = max(1, math.ceil(rate / 60))  # a second's worth
            due = int((now_us - self.budget_at_us) // interval_us)
            if due <= 0:
                return False
            if due > most:
                due = most
                self.budget_at_us = now_us - round(most * interval_us)
            count = min(due, top - self.serving)
            if count < due:  # the queue ran out: what is left lapses
                self.budget_at_us = now_us
            else:
                self.budget_at_us += round(count * interval_us)
        first = self.serving
        self.serving += count
        self._last_admission_us = now_us
        for seat in self._by_place[first : self.serving]:
            seat.admitted_at_us = now_us
        self._writes.append((ADMIT, (now_us, self.sale_id, first, self.serving)))
        self._save()
        return True

    def _save(self) -> None:
        self._writes.append(
            (
                SAVE_QUEUE,
                (
                    self.sale_id,
                    self.shuffled_at_us,
                    self.serving,
                    self.budget_at_us,
                    self.closed_at_us,
                ),
            )
        )
        self.changes += 1

    # -- a shopper's commands ------------------------------------------------------------
    def join(
        self, user_id: str, now_us: int, proof: str | None = None
    ) -> tuple[int, dict[str, Any]] | Refusal:
        """(201 or 200, the ticket's JSON) for this person's ticket, or why not. `proof`:
        the nonce of the proof of work the worker checked, good for one new ticket."""
        seat = self._by_user.get(user_id)
        if seat is not None:
            return 200, self.ticket_json(seat, now_us)
        if proof is not None and proof in self._proofs:
            return Refusal(403, "proof-of-work-invalid", "this proof of work was used already")
        if self.closed_at_us is not None:
            return Refusal(410, "queue-closed", "the sale is sold out or over: the queue is closed")
        opens_at_us = self.terms.opens_at_us
        if opens_at_us is not None and now_us < opens_at_us:
            return Refusal(409, "queue-not-open", "the queue opens at its opensAt")
        place = None if self.shuffled_at_us is None else len(self._by_place) + 1
        number = len(self._by_number) + 1
        seat = Seat(TicketRow(self.sale_id, number, user_id, now_us, place, None, None))
        self._by_number.append(seat)
        self._by_user[user_id] = seat
        if place is not None:
            self._by_place.append(seat)
        self._writes.append((INSERT_TICKET, (self.sale_id, number, user_id, now_us, place)))
        self.changes += 1
        if proof is not None:
            self._spend(proof, now_us)
        return 201, self.ticket_json(seat, now_us)

    def _spend(self, proof: str, now_us: int) -> None:
        """Keep a proof until its challenge has surely expired, in the journal with the
        join it made: a restart of the allocator does not make it good again."""
        until_us = now_us + PROOF_KEPT_US
        self._proofs[proof] = until_us
        self._writes.append((SPEND_PROOF, (self.sale_id, proof, until_us)))
        if len(self._proofs) > 2 * self._proofs_kept:
            self._proofs = {key: until for key, until in self._proofs.items() if until > now_us}
            self._proofs_kept = max(len(self._proofs), 1024)
            self._writes.append((PRUNE_PROOFS, (self.sale_id, now_us)))

    def read(self, number: int, now_us: int) -> dict[str, Any] | None:
        """Ticket `number`'s JSON (None: no such ticket)."""
        if not 1 <= number <= len(self._by_number):
            return None
        return self.ticket_json(self._by_number[number - 1], now_us)

    # -- the purchase's gate (StockBook) -----------------------------------------------------
    def admits(self, user_id: str, now_us: int) -> bool:
        """Whether this person holds an admitted ticket they may buy with now."""
        seat = self._by_user.get(user_id)
        return seat is not None and self._state(seat, now_us) == ADMITTED

    def used(self, user_id: str, now_us: int) -> None:
        """This person bought: their admission ends."""
        seat = self._by_user[user_id]
        seat.used_at_us = now_us
        self._writes.append((USE, (now_us, self.sale_id, seat.number)))

    # -- what is shown ---------------------------------------------------------------------
    def _state(self, seat: Seat, now_us: int) -> str:
        if seat.used_at_us is not None:
            return USED
        if self.closed_at_us is not None:
            return CLOSED
        if seat.place is not None and seat.place <= self.serving:
            assert seat.admitted_at_us is not None
            if now_us < seat.admitted_at_us + self.terms.admitted_s * 1_000_000:
                return ADMITTED
            return LAPSED
        return PREQUEUE if seat.place is None else WAITING

    def ticket_json(self, seat: Seat, now_us: int) -> dict[str, Any]:
        state = self._state(seat, now_us)
        ahead = None
        wait_s = None
        if state == WAITING and seat.place is not None:
            ahead = seat.place - self.serving - 1
            wait_s = self.wait_s(seat.place)
        until = None
        if seat.admitted_at_us is not None:
            until = iso_from_us(seat.admitted_at_us + self.terms.admitted_s * 1_000_000)
        issued_at_s = seat.joined_at_us // 1_000_000
        ticket = Ticket(self.sale_id, seat.number, issued_at_s, seat.user_id)
        return {
            "ticket": ticket_text(self._key, ticket),
            "saleId": self.sale_id,
            "number": seat.number,
            "userId": seat.user_id,
            "state": state,
            "place": seat.place,
            "ahead": ahead,
            "serving": self.serving,
            "estimatedWaitSeconds": wait_s,
            "admittedUntil": until,
            "joinedAt": iso_from_us(seat.joined_at_us),
        }

    def wait_s(self, place: int) -> int | None:
        """About how long until `place` is admitted, at the admission rate."""
        rate = self.terms.admit_per_minute
        if rate is None:
            return 0
        return math.ceil((place - self.serving) * 60 / rate)

    @property
    def state(self) -> int:
        if self.closed_at_us is not None:
            return ROOM_CLOSED
        return ROOM_PREQUEUE if self.shuffled_at_us is None else ROOM_ADMITTING

    @property
    def length(self) -> int:
        """Tickets issued."""
        return len(self._by_number)

    @property
    def waiting(self) -> int:
        """Tickets not admitted yet (none once closed)."""
        return 0 if self.closed_at_us is not None else len(self._by_number) - self.serving

    def take_writes(self) -> list[tuple[str, tuple[object, ...]]]:
        writes, self._writes = self._writes, []
        return writes


def _place(seat: Seat) -> int:
    return seat.place or 0


def at_index(writes: list[tuple[str, tuple[object, ...]]], index: int) -> list[Write]:
    """The room's writes as a group commit's, all at `index` among its orders."""
    return [(index, sql, params) for sql, params in writes]
