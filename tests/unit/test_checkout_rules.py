"""The pure rules of checkout holds (flashsale.checkout_rules), which the Redis engine's
Lua is to mirror, and a journal written before holds upgraded to order states."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest

from flashsale import checkout_rules as rules
from flashsale.journal import Journal
from tests.support.old_journal import write_journal_before_lifecycles


def test_confirm_a_hold_then_again_with_its_ref_or_another() -> None:
    assert rules.confirm(rules.HELD, None, "p", free_unit=False).action == rules.CONFIRM
    assert rules.confirm(rules.CONFIRMED, "p", "p", free_unit=False) == rules.Verdict()
    other = rules.confirm(rules.CONFIRMED, "p", "q", free_unit=True)
    assert (other.status, other.problem) == rules.PAYMENT_REF_MISMATCH


def test_a_late_confirm_takes_a_free_unit_back_or_asks_for_a_refund() -> None:
    assert rules.confirm(rules.EXPIRED, None, "p", free_unit=True).action == rules.RETAKE
    refused = rules.confirm(rules.EXPIRED, None, "p", free_unit=False)
    assert refused.problem == "hold-expired" and refused.extensions["refundRequired"] is True
    cancelled = rules.confirm(rules.CANCELLED, None, "p", free_unit=True)
    assert cancelled.problem == "hold-cancelled" and cancelled.extensions["refundRequired"]


@pytest.mark.parametrize(
    ("stock", "live", "waiting", "free"),
    [(5, 4, 0, True), (5, 5, 0, False), (5, 4, 1, False)],
)
def test_a_unit_is_free_only_below_the_stock_with_nobody_waiting(
    stock: int, live: int, waiting: int, free: bool
) -> None:
    assert rules.unit_free(stock, live, waiting) is free


def test_cancel_and_extend() -> None:
    assert rules.cancel(rules.HELD).action == rules.CANCEL
    assert rules.cancel(rules.CANCELLED) == rules.Verdict()
    assert rules.cancel(rules.CONFIRMED).problem == "order-confirmed"
    assert rules.extend(rules.HELD, False, 300).action == rules.EXTEND
    assert rules.extend(rules.HELD, True, 300).problem == "hold-already-extended"
    assert rules.extend(rules.HELD, False, 0).problem == "hold-not-extendable"
    assert rules.extend(rules.EXPIRED, False, 300).problem == "hold-expired"


def test_the_waitlist_opens_only_when_sold_out_with_holds_outstanding() -> None:
    assert rules.waitlist_refusal(open_now=True, sold_out=True, held=3) is None
    for (open_now, sold_out, held), reason in (
        ((False, True, 3), rules.SALE_OVER),
        ((True, False, 3), rules.NOT_SOLD_OUT),
        ((True, True, 0), rules.NOTHING_HELD),
    ):
        refusal = rules.waitlist_refusal(open_now=open_now, sold_out=sold_out, held=held)
        assert refusal is not None and refusal.extensions["reason"] == reason


def test_tokens_are_compared_by_digest_or_derived_from_the_order_id() -> None:
    key, order_id = b"k" * 32, "order-1"
    token = rules.new_token()
    assert len(token) == 43
    assert rules.token_matches(token, rules.token_digest(token), key, order_id)
    assert not rules.token_matches(token + "x", rules.token_digest(token), key, order_id)
    # A bought hold keeps no digest: its token is its order id's MAC under the key.
    bought = rules.checkout_token(key, order_id)
    assert len(bought) == 43
    assert rules.token_matches(bought, None, key, order_id)
    assert not rules.token_matches(token, None, key, order_id)
    assert not rules.token_matches(bought, None, b"j" * 32, order_id)
    assert not rules.token_matches(bought, None, key, "order-2")
    offered = rules.offered_checkout_token(token)
    assert offered != token and rules.offered_checkout_token(token) == offered


def test_an_old_journal_gets_order_states_in_place(tmp_path) -> None:
    """A journal as today's main wrote it (before holds) is rebuilt: every order
    confirmed, a released slot may be taken again, two live ones may not."""
    path = tmp_path / "old.db"
    write_journal_before_lifecycles(path, [(1_700_000_000_000_000, None)], stock=2)
    with closing(sqlite3.connect(path)) as db, db:
        db.execute(
            "INSERT INTO orders VALUES (1, 1, 'order-1', 'alice', 1, 1700000000000001, 'item', 1)"
        )
    journal = Journal(path)
    try:
        rows = journal.db.execute("SELECT order_id, state FROM orders").fetchall()
        assert rows == [("order-1", "confirmed")]
        assert journal.latest_sale() is not None
        insert = (
            "INSERT INTO orders (sale_id, position, order_id, user_id, unit, purchased_at_us, "
            "sku, sku_position, state) VALUES (1, ?, ?, ?, 1, 1, 'item', 1, ?)"
        )
        with pytest.raises(sqlite3.IntegrityError):  # slot 1 is alice's, live
            journal.db.execute(insert, (2, "order-2", "bob", "held"))
        journal.db.execute("UPDATE orders SET state = 'expired' WHERE position = 1")
        journal.db.execute(insert, (2, "order-2", "bob", "held"))
    finally:
        journal.close()
