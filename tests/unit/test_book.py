from __future__ import annotations

import os
from dataclasses import replace

import pytest

from flashsale.allocator.book import StockBook
from flashsale.outcomes import Outcome
from flashsale.records import Lifecycle, Phase, order_id_for
from tests.support.catalogue import SKU, product, sale_record

NOW = 1_000_000


def sale(stock=3, limit=1, starts=None, ends=None):
    return sale_record(product(stock=stock), limit=limit, starts=starts, ends=ends)


def buy(book: StockBook, user: str, sku=SKU, *, expired=False, resent=False, request_id=None):
    return book.decide(user, sku, request_id or os.urandom(16), NOW, expired=expired, resent=resent)


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


SIZES = sale_record(
    product("s41", stock=2), product("s42", stock=1), product("s43", stock=3), limit=2
)


def test_each_product_sells_exactly_its_own_stock_and_positions_span_the_sale():
    book = StockBook(SIZES)
    answers = [buy(book, f"u{i}", "s42") for i in range(3)] + [buy(book, "v", "s41")]
    assert [o for o, _ in answers] == [
        Outcome.CONFIRMED,
        Outcome.SOLD_OUT,
        Outcome.SOLD_OUT,
        Outcome.CONFIRMED,
    ]
    first, last = answers[0][1], answers[3][1]
    assert (first.sku, first.position, first.sku_position) == ("s42", 1, 1)
    assert (last.sku, last.position, last.sku_position) == ("s41", 2, 1)
    assert book.snapshot().products[1].sold == 1
    assert book.snapshot().sold == 2


def test_the_per_user_limit_counts_across_products():
    book = StockBook(SIZES)  # two per person, over the whole sale
    assert buy(book, "ann", "s41")[0] is Outcome.CONFIRMED
    assert buy(book, "ann", "s43")[0] is Outcome.CONFIRMED
    outcome, owned = buy(book, "ann", "s42")
    assert outcome is Outcome.ALREADY_PURCHASED
    assert owned.sku == "s41"  # the first of what they hold


def test_a_product_limit_lower_than_the_sale_s_is_kept():
    book = StockBook(sale_record(product("cap", 5, per_user_limit=1), product("tee", 5), limit=3))
    assert buy(book, "ann", "cap")[0] is Outcome.CONFIRMED
    assert buy(book, "ann", "cap")[0] is Outcome.ALREADY_PURCHASED
    assert buy(book, "ann", "tee")[0] is Outcome.CONFIRMED


def test_an_unknown_sku_sells_nothing():
    book = StockBook(SIZES)
    assert buy(book, "ann", "s99") == (Outcome.UNKNOWN_PRODUCT, None)
    assert book.take_unjournaled() == []


def test_recovery_rebuilds_each_product_s_count():
    book = StockBook(SIZES)
    for user, sku in [("a", "s41"), ("b", "s43"), ("c", "s41"), ("d", "s43")]:
        buy(book, user, sku)
    recovered = StockBook(SIZES, book.take_unjournaled())
    assert [item.sold for item in recovered.snapshot().products] == [2, 0, 2]
    assert buy(recovered, "e", "s41")[0] is Outcome.SOLD_OUT
    outcome, order = buy(recovered, "e", "s43")
    assert (outcome, order.position, order.sku_position) == (Outcome.CONFIRMED, 5, 3)


def test_a_journal_holding_more_than_a_product_s_stock_is_refused():
    book = StockBook(sale_record(product("a", 3), product("b", 3)))
    orders = [buy(book, f"u{i}", "a")[1] for i in range(3)]
    with pytest.raises(RuntimeError, match="orders of a"):
        StockBook(sale_record(product("a", 2), product("b", 4)), orders)


def _with(book: StockBook, phase: Phase, version: int) -> None:
    book.change(replace(book.sale, lifecycle=Lifecycle(phase, version)))


def test_a_paused_sale_sells_nothing_until_it_is_resumed():
    request_id = os.urandom(16)
    book = StockBook(sale(stock=3))
    _, before = buy(book, "ann", request_id=request_id)
    _with(book, Phase.PAUSED, 2)
    assert [buy(book, user)[0] for user in ("bob", "ann")] == [Outcome.PAUSED] * 2
    # A sale made before the pause, sent again after a crash, is still the shopper's.
    assert buy(book, "ann", resent=True, request_id=request_id) == (Outcome.CONFIRMED, before)
    assert book.take_unjournaled() == [before]
    _with(book, Phase.ACTIVE, 3)
    assert buy(book, "bob")[0] is Outcome.CONFIRMED


def test_an_ended_sale_is_ended_also_before_its_end_and_a_paused_one_past_it():
    book = StockBook(sale(stock=3, starts=NOW + 5))
    _with(book, Phase.ENDED, 2)
    assert buy(book, "ann")[0] is Outcome.ENDED  # ended > not started
    paused = StockBook(sale(stock=3, ends=NOW))
    _with(paused, Phase.PAUSED, 2)
    assert buy(paused, "ann")[0] is Outcome.ENDED  # ended > paused
    upcoming = StockBook(sale(stock=3, starts=NOW + 5))
    _with(upcoming, Phase.PAUSED, 2)
    assert buy(upcoming, "ann")[0] is Outcome.PAUSED  # paused > not started


def test_a_change_keeps_the_sale_and_its_orders():
    book = StockBook(sale(stock=3))
    buy(book, "ann")
    _with(book, Phase.PAUSED, 2)
    assert (book.sold, book.remaining, book.sold_by_sku()) == (1, 2, {SKU: 1, "": 1})
    with pytest.raises(ValueError, match="not the book's sale"):
        book.change(replace(book.sale, sale_id=2))
