"""A sale's waiting room in the Redis engine, the Python side.

library.lua decides the room by Redis's clock: joins, the draw at the start, the
admissions, closing at the sell-out or the end, and the purchase's gate inside
flashsale_decide. Every host's allocator calls the same functions on the same Redis, so
every host admits the same people in the same order. What Redis has not is done here:
the draw's random order (secrets.SystemRandom: Redis's math.random is no cryptographic
source), which Redis applies only if nobody has drawn yet and the pre-queue is still
the one it was drawn from; and the ticket bodies, signed under the key kept in Redis
and built by the SQLite engine's own rules (flashsale.allocator.waiting_room), so both
engines answer alike.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from flashsale.allocator.waiting_room import (
    PROOF_KEPT_US,
    ROOM_ADMITTING,
    ROOM_CLOSED,
    ROOM_PREQUEUE,
    Seat,
    WaitingRoom,
)
from flashsale.checkout_commands import QUEUE_JOIN, CheckoutAnswer, CheckoutRequest
from flashsale.journal_queue import QueueRow, TicketRow
from flashsale.records import SaleRecord

# Draws sent before giving up (each retry: the pre-queue changed under the last one,
# which takes a join between Redis's start and the draw: a clock that went back).
DRAW_TRIES = 5
_RNG = secrets.SystemRandom()
# A refusal's `detail`, as the SQLite allocator words it.
_DETAILS = {
    "no-queue": "this sale has no waiting room",
    "queue-closed": "the sale is sold out or over: the queue is closed",
    "queue-not-open": "the queue opens at its opensAt",
    "unknown-ticket": "no ticket of this sale",
    "proof-of-work-invalid": "this proof of work was used already",
}


class Functions(Protocol):
    """What calls the library (flashsale.redis_engine.store.RedisStore)."""

    def call(self, function: str, *args: Any, read_only: bool = False) -> Any: ...


class Answered(NamedTuple):
    """What Redis answered one shopper's command: a status, a problem or the ticket."""

    status: int
    problem: str | None
    ticket: TicketRow | None


@dataclass(frozen=True)
class RoomCall:
    """One call of a queue function (library.lua's room_answer)."""

    status: int  # 0: the pre-queue is to be drawn first; 404: no waiting room; else 200
    problem: str | None
    sale_id: int
    now_us: int  # Redis's clock when it decided
    stands: QueueRow | None  # None: the sale has no waiting room
    length: int = 0  # tickets issued
    changes: int = 0  # +1 on each change a page shows
    next_change_us: int | None = None  # when a tick next has something to do (Redis's clock)
    answers: tuple[Answered, ...] = ()  # each command's, in order

    @property
    def figures(self) -> tuple[int, int, int, int, int] | None:
        """(state, tickets, serving, waiting, changes) for SaleBoard.publish_queue."""
        stands = self.stands
        if stands is None:
            return None
        if stands.closed_at_us is not None:
            return ROOM_CLOSED, self.length, stands.serving, 0, self.changes
        state = ROOM_PREQUEUE if stands.shuffled_at_us is None else ROOM_ADMITTING
        return state, self.length, stands.serving, self.length - stands.serving, self.changes


def tick(functions: Functions) -> RoomCall:
    """The current sale's draw when it is due, its admissions and its closing, by Redis's
    clock: any host may call it at any time, and what is due happens once."""
    call = _room_call(functions.call("flashsale_queue_tick", ""))
    for _ in range(DRAW_TRIES):
        if call.status:
            return call
        call = _drawn(functions, call)
    return call


def commands(functions: Functions, requests: Sequence[CheckoutRequest]) -> RoomCall:
    """Shoppers' joins (a person's ticket: a new one, or theirs again; a join's `token`
    is the nonce of its proof of work, good for one new ticket) and ticket reads (the
    ticket if its number is its holder's), in one call: joins are written, and made
    durable, together. Decided after a tick, so a join at the start comes after the
    draw, which this host makes if nobody has yet."""
    args: list[str | int] = [PROOF_KEPT_US // 1000]
    for request in requests:
        if request.command == QUEUE_JOIN:
            args += ["join", request.user_id, request.token or ""]
        else:  # a read: its number (digits only: 0 is no ticket's)
            number = request.order_id if request.order_id.isdigit() else "0"
            args += [number, request.user_id, ""]
    call = _room_call(functions.call("flashsale_queue_commands", *args))
    for _ in range(DRAW_TRIES):
        if call.status:
            return call
        _drawn(functions, call)
        call = _room_call(functions.call("flashsale_queue_commands", *args))
    return call


def page(
    functions: Functions, sale_id: int, after: int, limit: int
) -> tuple[list[TicketRow], QueueRow | None]:
    """journal_queue.tickets_by_place and queue_row, from Redis: a page of the recorded
    order and where the room stands (None: nobody has joined it)."""
    room, tickets = functions.call("flashsale_queue_page", sale_id, after, limit, read_only=True)
    rows = [_ticket(sale_id, ticket) for ticket in tickets]
    return rows, (_stands(room) if room else None)


def drawn_order(count: int) -> list[int]:
    """Tickets 1..count in a random order, from the operating system's source."""
    order = list(range(1, count + 1))
    _RNG.shuffle(order)
    return order


def answers_of(
    call: RoomCall, count: int, sale: SaleRecord | None, key: bytes
) -> list[CheckoutAnswer]:
    """The `count` commands' answers as the SQLite allocator gives them: each ticket's
    body (WaitingRoom.ticket_json, at Redis's instant) or a refusal."""
    if call.status == 0:  # the draw never settled (DRAW_TRIES): nothing was decided
        busy = CheckoutAnswer(503, "not-selling", {"detail": "the queue's draw is under way"})
        return [busy] * count
    if call.stands is None or sale is None:
        problem = call.problem or "no-queue"
        return [CheckoutAnswer(404, problem, {"detail": _DETAILS[problem]})] * count
    room = WaitingRoom(sale, key, (), call.stands, rng=_RNG)
    return [_answer(room, answered, call.now_us) for answered in call.answers]


def _answer(room: WaitingRoom, answered: Answered, now_us: int) -> CheckoutAnswer:
    status, problem, ticket = answered
    if ticket is None:
        refusal = problem or "unknown-ticket"
        return CheckoutAnswer(status, refusal, {"detail": _DETAILS[refusal]})
    return CheckoutAnswer(status, entry=room.ticket_json(Seat(ticket), now_us))


def _drawn(functions: Functions, call: RoomCall) -> RoomCall:
    """The pre-queue `call` saw (tickets 1..n), drawn here and sent for Redis to apply."""
    order = ",".join(map(str, drawn_order(call.length)))
    return _room_call(functions.call("flashsale_queue_tick", call.sale_id, call.length, order))


def _room_call(reply: list[Any]) -> RoomCall:
    status, problem, sale_id, now_us, room, answers = reply
    sale = int(sale_id)
    if not room:
        return RoomCall(int(status), problem.decode() or None, sale, int(now_us), None)
    length, changes, next_change = int(room[0]), int(room[5]), room[7]
    return RoomCall(
        int(status),
        problem.decode() or None,
        sale,
        int(now_us),
        _stands(room),
        length,
        changes,
        int(next_change) if next_change else None,
        tuple(
            Answered(int(code), why.decode() or None, _ticket(sale, ticket) if ticket else None)
            for code, why, ticket in answers
        ),
    )


def _stands(room: list[Any]) -> QueueRow:
    """library.lua's room_reply as the journal's row of where a queue stands."""
    _, shuffled, serving, budget, closed = room[:5]
    return QueueRow(_or_none(shuffled), int(serving), int(budget), _or_none(closed))


def _ticket(sale_id: int, ticket: list[Any]) -> TicketRow:
    number, user, joined, place, admitted, used = ticket
    return TicketRow(
        sale_id,
        int(number),
        user.decode(),
        int(joined),
        _or_none(place),
        _or_none(admitted),
        _or_none(used),
    )


def _or_none(value: bytes | int) -> int | None:
    return None if value in (b"", "") else int(value)
