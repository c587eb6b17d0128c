from __future__ import annotations

import os

from flashsale.allocator.book import StockBook
from flashsale.journal import SaleRecord, order_id_for
from flashsale.outcomes import Outcome

NOW = 1_000_000


def sale(stock=3, limit=1, starts=None, ends=None) -> SaleRecord:
    return SaleRecord(1, stock, limit, starts, ends, 0)


def buy(book: StockBook, user: str, *, expired=False, resent=False, request_id=None):
    return book.decide(user, request_id or os.urandom(16), NOW, expired=expired, resent=resent)


def test_sells_exactly_the_stock_in_order():
    book = StockBook(sale(stock=3))
    results = [buy(book, f"u{i}") for i in range(5)]
    assert [o for o, _ in results] == [Outcome.CONFIRMED] * 3 + [Outcome.SOLD_OUT] * 2
    assert [order.position for _, order in results[:3]] == [1, 2, 3]
    assert len(book.take_unjournaled()) == 3
    assert book.take_unjournaled() == []


def test_per_user_limit_and_the_repeat_gets_the_first_order():
    book = StockBook(sale(stock=5, limit=2))
    first = buy(book, "ann")[1]
    assert buy(book, "ann")[0] is Outcome.CONFIRMED
    outcome, order = buy(book, "ann")
    assert outcome is Outcome.ALREADY_PURCHASED
    assert order == first


def test_an_expired_request_is_not_sold_but_still_told_the_truth():
    book = StockBook(sale(stock=1))
    assert buy(book, "late", expired=True)[0] is Outcome.EXPIRED
    owner = buy(book, "ann")[1]
    assert buy(book, "ann", expired=True) == (Outcome.ALREADY_PURCHASED, owner)
    assert buy(book, "bob", expired=True)[0] is Outcome.SOLD_OUT


def test_not_started_and_ended_are_decided_by_time():
    assert buy(StockBook(sale(starts=NOW + 1)), "a")[0] is Outcome.NOT_STARTED
    assert buy(StockBook(sale(ends=NOW)), "a")[0] is Outcome.ENDED


def test_a_resent_request_finds_the_sale_a_dead_allocator_committed():
    request_id = os.urandom(16)
    book = StockBook(sale(stock=2))
    _, order = buy(book, "ann", request_id=request_id)
    recovered = StockBook(sale(stock=2), [order])
    assert recovered.sold == 1
    assert buy(recovered, "ann", resent=True, request_id=request_id) == (
        Outcome.CONFIRMED,
        order,
    )
    assert order.order_id == order_id_for(request_id)
    assert recovered.take_unjournaled() == []
