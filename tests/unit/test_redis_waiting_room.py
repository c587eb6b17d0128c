"""The Redis engine's waiting room, the Python side: the figures a host publishes from
what Redis answered are the SQLite room's in the same state, and a queue command's
answer is the ticket body the SQLite allocator gives (refusals worded alike)."""

from __future__ import annotations

import random

import pytest

from flashsale.allocator.waiting_room import Refusal, WaitingRoom
from flashsale.catalogue import Product
from flashsale.journal_queue import QueueRow, TicketRow
from flashsale.queue_tickets import verified_ticket
from flashsale.records import QueueTerms, SaleRecord, SaleTerms
from flashsale.redis_engine.waiting_room import Answered, RoomCall, answers_of, drawn_order

KEY = b"k" * 32
START_US = 1_000_000_000_000
S = 1_000_000


def _sale() -> SaleRecord:
    product = Product("p", "P", "", 100, "EUR", None, 10, None)
    terms = QueueTerms(None, admit_per_minute=60, admitted_s=30)
    return SaleRecord(7, 10, SaleTerms((product,), 1, START_US, None, None, terms), 0)


def _sqlite_room() -> WaitingRoom:
    room = WaitingRoom(_sale(), KEY, rng=random.Random(1))  # type: ignore[arg-type]
    for n in range(5):
        assert not isinstance(room.join(f"u{n}", START_US - S), Refusal)
    return room


def _as_redis(room: WaitingRoom, now_us: int) -> RoomCall:
    """What library.lua would answer of the same room."""
    stands = QueueRow(room.shuffled_at_us, room.serving, room.budget_at_us, room.closed_at_us)
    return RoomCall(200, None, room.sale_id, now_us, stands, room.length, room.changes)


@pytest.mark.parametrize("moment", ["prequeue", "admitting", "closed"])
def test_the_figures_are_the_sqlite_rooms(moment: str) -> None:
    room = _sqlite_room()
    now_us = START_US - 1
    if moment != "prequeue":
        now_us = START_US + 3 * S
        room.tick(now_us, remaining=10, ended=False, paused=False)
    if moment == "closed":
        room.tick(now_us, remaining=0, ended=False, paused=False)
    figures = _as_redis(room, now_us).figures
    assert figures is not None
    assert figures[:4] == (room.state, room.length, room.serving, room.waiting)


def test_a_ticket_answer_is_the_sqlite_allocators_body() -> None:
    room = _sqlite_room()
    now_us = START_US + 2 * S
    room.tick(now_us, remaining=10, ended=False, paused=False)
    expected = room.read(3, now_us)
    assert expected is not None and expected["state"] == "admitted"  # 60 a minute: 2 by now
    # Ticket 3 as Redis keeps it: drawn to place 1 or 2, admitted at the tick.
    row = TicketRow(7, 3, "u2", START_US - S, expected["place"], now_us, None)
    call = RoomCall(
        200,
        None,
        7,
        now_us,
        QueueRow(room.shuffled_at_us, room.serving, room.budget_at_us, None),
        room.length,
        answers=(Answered(200, None, row), Answered(404, "unknown-ticket", None)),
    )
    found, refused = answers_of(call, 2, _sale(), KEY)
    assert (found.status, found.entry) == (200, expected)
    ticket = verified_ticket(KEY, expected["ticket"])
    assert ticket is not None and (ticket.sale_id, ticket.number, ticket.user_id) == (7, 3, "u2")
    assert (refused.status, refused.problem) == (404, "unknown-ticket")
    assert refused.extensions == {"detail": "no ticket of this sale"}


def test_a_draw_is_a_permutation_of_the_prequeue() -> None:
    order = drawn_order(1_000)
    assert sorted(order) == list(range(1, 1_001)) and order != sorted(order)
