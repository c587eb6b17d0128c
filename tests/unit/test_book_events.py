"""The outbox events a sale with holds writes among its changes (webhooks on): which
decision makes which event, in decision order, and none with webhooks off."""

from __future__ import annotations

import json
import os
from dataclasses import replace

from flashsale.allocator import holds
from flashsale.allocator.book import StockBook
from flashsale.checkout_commands import CANCEL, CONFIRM, JOIN, CheckoutRequest
from flashsale.outcomes import Outcome
from flashsale.records import CheckoutTerms
from flashsale.webhooks.outbox import INSERT_EVENT
from tests.support.catalogue import SKU, product, sale_record

NOW = 1_000_000
HOLD_S = 10


def _sale(stock: int = 2, ends: int | None = None):
    record = sale_record(product(stock=stock), ends=ends)
    return replace(record, terms=replace(record.terms, checkout=CheckoutTerms(HOLD_S, 0)))


def _buy(book: StockBook, user: str, now_us: int = NOW):
    return book.decide(user, SKU, os.urandom(16), now_us, expired=False, resent=False)


def _events(book: StockBook) -> list[tuple[str, dict]]:
    """(type, data) of the outbox events among the book's writes, in order."""
    found = []
    for _, sql, params in book.take_writes():
        if sql == INSERT_EVENT:
            payload = json.loads(str(params[5]))
            assert payload["type"] == params[1]
            found.append((payload["type"], payload["data"]))
    return found


def _command(book: StockBook, command: str, order_id: str = "", now_us: int = NOW, **more):
    request = CheckoutRequest(command=command, order_id=order_id, shop=True, **more)
    return holds.decide_checkout(book, request, now_us)


def test_each_decision_writes_its_events_in_order() -> None:
    book = StockBook(_sale(stock=2), events=True)
    _, ann = _buy(book, "ann")
    _, bob = _buy(book, "bob")
    assert [(kind, data.get("orderId")) for kind, data in _events(book)] == [
        ("order.held", ann.order_id),
        ("order.held", bob.order_id),
        ("sale.sold_out", None),  # the live units reached the stock
    ]
    joined = _command(book, JOIN, user_id="cat", sku=SKU)
    assert joined.status == 201
    assert _events(book) == []  # a join is no event

    assert _command(book, CANCEL, bob.order_id).status == 200
    kinds = _events(book)
    assert [kind for kind, _ in kinds] == ["order.cancelled", "order.held", "waitlist.offered"]
    offered = kinds[2][1]
    assert offered["userId"] == "cat" and offered["place"] == 1
    assert kinds[1][1]["orderId"] == offered["orderId"] and kinds[1][1]["state"] == "held"

    answer = _command(book, CONFIRM, ann.order_id, payment_ref="pay-ann")
    assert answer.status == 200
    assert _events(book) == [
        (
            "order.confirmed",
            {
                "orderId": ann.order_id,
                "saleId": 1,
                "userId": "ann",
                "sku": SKU,
                "position": 1,
                "purchasedAt": "1970-01-01T00:00:01.000Z",
                "state": "confirmed",
                "paymentRef": "pay-ann",
            },
        )
    ]

    # Cat's offered hold expires by the clock: back to stock, nobody waiting.
    later = NOW + HOLD_S * 1_000_000
    assert book.expire_due(later) == 1
    assert [kind for kind, _ in _events(book)] == ["order.expired"]
    # A new buyer takes the unit: sold out again.
    assert _buy(book, "dan", later)[0] is Outcome.HELD
    assert [kind for kind, _ in _events(book)] == ["order.held", "sale.sold_out"]


def test_a_late_confirm_taking_the_free_unit_back_is_confirmed_and_sells_out() -> None:
    book = StockBook(_sale(stock=1), events=True)
    _, ann = _buy(book, "ann")
    _events(book)
    book.expire_due(NOW + HOLD_S * 1_000_000)
    assert [kind for kind, _ in _events(book)] == ["order.expired"]
    answer = _command(book, CONFIRM, ann.order_id, NOW + HOLD_S * 1_000_000 + 1, payment_ref="p")
    assert answer.status == 200
    assert [kind for kind, _ in _events(book)] == ["order.confirmed", "sale.sold_out"]


def test_the_last_confirm_closes_the_waitlist_and_so_does_the_end() -> None:
    book = StockBook(_sale(stock=1, ends=NOW + 5_000_000), events=True)
    _, ann = _buy(book, "ann")
    assert _command(book, JOIN, user_id="cat", sku=SKU).status == 201
    assert _command(book, CONFIRM, ann.order_id, payment_ref="p").status == 200
    assert _state(book, "cat") == "closed"  # no hold left to come back

    ended = StockBook(_sale(stock=1, ends=NOW + 5_000_000))
    _buy(ended, "ann")
    assert _command(ended, JOIN, user_id="cat", sku=SKU).status == 201
    assert ended.next_end_us() == NOW + 5_000_000
    assert ended.close_at_end(NOW + 4_999_999) is False
    assert ended.close_at_end(NOW + 5_000_000) is True
    assert _state(ended, "cat") == "closed"
    assert ended.next_end_us() is None and ended.close_at_end(NOW + 6_000_000) is False


def _state(book: StockBook, user: str) -> str:
    entry = book.entry_of(user, SKU)
    assert entry is not None
    return entry.state


def test_webhooks_off_write_no_events() -> None:
    book = StockBook(_sale(stock=1))
    _, ann = _buy(book, "ann")
    _command(book, CANCEL, ann.order_id)
    assert _events(book) == []
