"""The waiting room's rules, as the allocator keeps them: the pre-queue, the draw at the
start, admission at the rate, one purchase an admission, closing at the sell-out, and
the same room rebuilt from what it wrote."""

from __future__ import annotations

import random
import re
import sqlite3
from typing import Any

import pytest

from flashsale import journal_queue
from flashsale.allocator.waiting_room import (
    ADMIT_EVERY_US,
    ADMITTED,
    CLOSED,
    LAPSED,
    PREQUEUE,
    PROOF_KEPT_US,
    USED,
    WAITING,
    Refusal,
    WaitingRoom,
)
from flashsale.catalogue import Product
from flashsale.queue_tickets import verified_ticket
from flashsale.records import QueueTerms, SaleRecord, SaleTerms

KEY = b"k" * 32
START_US = 1_000_000_000_000
S = 1_000_000


def _sale(**queue: object) -> SaleRecord:
    terms = QueueTerms(**{"opens_at_us": None, **queue})  # type: ignore[arg-type]
    product = Product("p", "P", "", 100, "EUR", None, 10, None)
    return SaleRecord(1, 10, SaleTerms((product,), 1, START_US, None, None, terms), 0)


def _room(seed: int = 1, **queue: object) -> WaitingRoom:
    return WaitingRoom(_sale(**queue), KEY, rng=random.Random(seed))  # type: ignore[arg-type]


def _tick(room: WaitingRoom, at_us: int, remaining: int = 1_000) -> bool:
    return room.tick(at_us, remaining=remaining, ended=False, paused=False)


def _ticket(room: WaitingRoom, number: int, at_us: int) -> dict[str, Any]:
    ticket = room.read(number, at_us)
    assert ticket is not None
    return ticket


def _holder_of(room: WaitingRoom, place: int, at_us: int) -> str:
    return next(
        str(_ticket(room, n, at_us)["userId"])
        for n in range(1, room.length + 1)
        if _ticket(room, n, at_us)["place"] == place
    )


def _joined(room: WaitingRoom, user: str, at_us: int) -> dict[str, Any]:
    joined = room.join(user, at_us)
    assert not isinstance(joined, Refusal), joined
    return joined[1]


def test_the_prequeue_is_drawn_at_the_start_and_later_arrivals_go_to_the_end() -> None:
    room = _room()
    early = [_joined(room, f"u{n}", START_US - (100 - n) * S) for n in range(50)]
    assert {ticket["state"] for ticket in early} == {PREQUEUE}
    assert all(ticket["place"] is None for ticket in early)
    assert not _tick(room, START_US - 1)  # nothing before the start
    assert _tick(room, START_US)
    places = [_ticket(room, n, START_US)["place"] for n in range(1, 51)]
    assert sorted(places) == list(range(1, 51))
    assert places != list(range(1, 51))  # drawn, not in arrival order
    late = [_joined(room, f"late{n}", START_US + n) for n in range(3)]
    assert [ticket["place"] for ticket in late] == [51, 52, 53]


def test_without_shuffle_the_prequeue_keeps_arrival_order() -> None:
    room = _room(shuffle=False)
    for n in range(5):
        _joined(room, f"u{n}", START_US - S)
    _tick(room, START_US)
    assert [_ticket(room, n, START_US)["place"] for n in range(1, 6)] == [1, 2, 3, 4, 5]


def test_one_ticket_a_person_and_no_join_before_the_queue_opens() -> None:
    room = _room(opens_at_us=START_US - 10 * S)
    early = room.join("alice", START_US - 11 * S)
    assert isinstance(early, Refusal) and early.status == 409
    first = room.join("alice", START_US - 5 * S)
    again = room.join("alice", START_US - 4 * S)
    assert not isinstance(first, Refusal) and not isinstance(again, Refusal)
    assert first[0] == 201 and again[0] == 200
    assert first[1]["ticket"] == again[1]["ticket"] and room.length == 1
    ticket = verified_ticket(KEY, str(first[1]["ticket"]))
    assert ticket is not None and ticket.user_id == "alice" and ticket.number == 1


def test_admission_follows_the_rate_and_saves_up_no_burst() -> None:
    room = _room(admit_per_minute=600)  # ten a second
    for n in range(100):
        _joined(room, f"u{n}", START_US - S)
    _tick(room, START_US)
    assert room.serving == 0
    for tenth in range(1, 31):  # three seconds, a tick every tenth of a second
        _tick(room, START_US + tenth * S // 10)
    # In batches at most every ADMIT_EVERY_US: the last tick's share comes at the next.
    assert 27 <= room.serving <= 30
    next_us = room.next_change_us(START_US + 3 * S)
    assert next_us is not None and next_us <= START_US + 3 * S + ADMIT_EVERY_US
    _tick(room, START_US + 3 * S + ADMIT_EVERY_US)
    assert room.serving == 32
    # A pause of the loop for 5 s admits at most a second's worth at once.
    _tick(room, START_US + 8 * S)
    assert room.serving == 42


def test_all_at_once_without_a_rate() -> None:
    room = _room()
    for n in range(20):
        _joined(room, f"u{n}", START_US - S)
    _tick(room, START_US)
    assert room.serving == 20
    late = _joined(room, "late", START_US + S)
    assert late["state"] == WAITING
    _tick(room, START_US + S)
    assert _ticket(room, 21, START_US + S)["state"] == ADMITTED


def test_an_admission_is_for_one_purchase_within_its_time() -> None:
    room = _room(admitted_s=60)
    for user in ("alice", "bob", "carol"):
        _joined(room, user, START_US - S)
    assert not room.admits("alice", START_US - 1)
    _tick(room, START_US)
    assert room.admits("alice", START_US) and not room.admits("mallory", START_US)
    room.used("alice", START_US + S)
    assert not room.admits("alice", START_US + 2 * S)
    assert _ticket(room, 1, START_US + 2 * S)["state"] == USED
    assert room.admits("bob", START_US + 59 * S)
    assert not room.admits("bob", START_US + 60 * S)
    assert _ticket(room, 2, START_US + 60 * S)["state"] == LAPSED


def test_the_sell_out_closes_the_queue() -> None:
    room = _room(admit_per_minute=60)
    for n in range(10):
        _joined(room, f"u{n}", START_US - S)
    _tick(room, START_US)
    _tick(room, START_US + 2 * S)
    admitted = room.serving
    assert _tick(room, START_US + 3 * S, remaining=0)
    assert room.waiting == 0
    _tick(room, START_US + 60 * S)
    assert room.serving == admitted  # nobody admitted to buy nothing
    assert _ticket(room, 10, START_US + 60 * S)["state"] == CLOSED
    assert not room.admits("u9", START_US + 60 * S)
    refused = room.join("late", START_US + 61 * S)
    assert isinstance(refused, Refusal) and refused.status == 410


def test_the_room_rebuilt_from_its_writes_is_the_same() -> None:
    """What the allocator writes is what a restarted allocator reads: the draw is kept."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE sales (sale_id INTEGER PRIMARY KEY)")
    db.execute("INSERT INTO sales VALUES (1)")
    journal_queue.create_tables(db)
    room = _room(seed=7, admit_per_minute=120)
    for n in range(30):
        _joined(room, f"u{n}", START_US - (30 - n) * S)
    _tick(room, START_US)
    _tick(room, START_US + S)
    _joined(room, "late", START_US + S + 1)
    first = _holder_of(room, 1, START_US + S)  # the first admitted buys
    assert room.admits(first, START_US + S)
    room.used(first, START_US + S)
    for sql, params in room.take_writes():
        db.execute(sql, params)
    tickets, stands = journal_queue.tickets(db, 1), journal_queue.queue_row(db, 1)
    again = WaitingRoom(_sale(admit_per_minute=120), KEY, tickets, stands)
    at = START_US + S + 2
    for number in range(1, 32):
        assert again.read(number, at) == room.read(number, at)
    assert (again.serving, again.budget_at_us, again.length) == (
        room.serving,
        room.budget_at_us,
        room.length,
    )


@pytest.mark.parametrize("bad", [{"admit_per_minute": 60}, {}])
def test_a_sale_without_a_start_has_no_room(bad: dict[str, object]) -> None:
    product = Product("p", "P", "", 100, "EUR", None, 10, None)
    terms = SaleTerms((product,), 1, None, None, None, QueueTerms(None, **bad))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=re.escape("no waiting room")):
        WaitingRoom(SaleRecord(1, 10, terms, 0), KEY)


def test_a_spent_proof_of_work_stays_spent_in_the_room_rebuilt_until_it_is_kept_no_more() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE sales (sale_id INTEGER PRIMARY KEY)")
    db.execute("INSERT INTO sales VALUES (1)")
    journal_queue.create_tables(db)
    room = _room(proof_of_work=True)
    joined_at = START_US - 60 * S
    assert not isinstance(room.join("alice", joined_at, proof="nonce-1"), Refusal)
    for sql, params in room.take_writes():
        db.execute(sql, params)

    def rebuilt(at_us: int) -> WaitingRoom:
        tickets, stands = journal_queue.tickets(db, 1), journal_queue.queue_row(db, 1)
        proofs = journal_queue.spent_proofs(db, 1, at_us)
        return WaitingRoom(_sale(proof_of_work=True), KEY, tickets, stands, spent_proofs=proofs)

    again = rebuilt(joined_at + S)
    refused = again.join("bob", joined_at + S, proof="nonce-1")
    assert isinstance(refused, Refusal) and refused.problem == "proof-of-work-invalid"
    assert not isinstance(again.join("bob", joined_at + S, proof="nonce-2"), Refusal)
    # Once its challenge has surely expired, the journal lets it go (the challenge's own
    # expiry refuses it then, in the worker).
    kept_until = joined_at + PROOF_KEPT_US
    assert journal_queue.spent_proofs(db, 1, kept_until) == {}
    late = rebuilt(kept_until)
    assert not isinstance(late.join("carol", kept_until, proof="nonce-1"), Refusal)
    for sql, params in late.take_writes():  # its row is still there: written over
        db.execute(sql, params)
    assert journal_queue.spent_proofs(db, 1, kept_until) == {"nonce-1": kept_until + PROOF_KEPT_US}
