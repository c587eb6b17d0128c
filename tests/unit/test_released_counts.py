"""Expired and cancelled orders are counted per product by the book, survive a restart,
and reach every reader of the sale board and the status."""

from __future__ import annotations

import os
from dataclasses import replace

from flashsale.allocator import holds
from flashsale.allocator.book import StockBook
from flashsale.api.representations import sale_json
from flashsale.checkout_commands import CANCEL, CONFIRM, CheckoutRequest
from flashsale.journal import Journal
from flashsale.records import CheckoutTerms
from flashsale.shm.sale_board import SaleBoard
from tests.support.catalogue import product, sale_record

NOW = 1_000_000
HOLD_S = 10


def _sale():
    record = sale_record(product("cap", stock=3), product("tee", stock=2), limit=5)
    return replace(record, terms=replace(record.terms, checkout=CheckoutTerms(HOLD_S, 0)))


def _buy(book: StockBook, user: str, sku: str):
    _, order = book.decide(user, sku, os.urandom(16), NOW, False, 0)
    assert order is not None
    return order


def _command(book: StockBook, command: str, order_id: str, now_us: int, **more):
    request = CheckoutRequest(command=command, order_id=order_id, shop=True, **more)
    return holds.decide_checkout(book, request, now_us)


def test_expired_and_cancelled_are_counted_per_product_and_a_retake_uncounts(tmp_path):
    journal = Journal(tmp_path / "j.db")
    sale = journal.create_sale(_sale().terms)
    book = StockBook(sale, token_key=journal.token_key)
    caps = [_buy(book, user, "cap") for user in ("ann", "bob", "cat")]
    tee = _buy(book, "dan", "tee")
    assert _command(book, CANCEL, caps[0].order_id, NOW + 1).status == 200
    assert _command(book, CONFIRM, caps[1].order_id, NOW + 1, payment_ref="p").status == 200
    later = NOW + HOLD_S * 1_000_000
    assert book.expire_due(later) == 2  # cat's cap and dan's tee
    # (held, waiting, expired, cancelled) by place: cap, tee
    assert book.held_by_place() == [(0, 0, 1, 1), (0, 0, 1, 0)]
    journal.record(book.take_unjournaled(), book.take_writes())

    recovered = StockBook(
        sale,
        journal.orders_of_sale(sale.sale_id),
        journal.checkout_rows(sale.sale_id),
        journal.waitlist(sale.sale_id),
        token_key=journal.token_key,
    )
    assert recovered.held_by_place() == [(0, 0, 1, 1), (0, 0, 1, 0)]
    # A late confirm that takes a free unit back is no longer expired.
    assert _command(recovered, CONFIRM, tee.order_id, later + 1, payment_ref="q").status == 200
    assert recovered.held_by_place() == [(0, 0, 1, 1), (0, 0, 0, 0)]
    journal.close()


def test_the_board_and_the_status_show_expired_and_cancelled():
    book = StockBook(_sale())
    ann = _buy(book, "ann", "cap")
    _buy(book, "bob", "cap")
    _buy(book, "cat", "tee")
    _command(book, CANCEL, ann.order_id, NOW + 1)
    board = SaleBoard()
    board.publish_sale(book.snapshot())
    book.expire_due(NOW + HOLD_S * 1_000_000)
    shelves = {
        place: (live, *counts)
        for place, (live, counts) in enumerate(
            zip(book.sold_by_sku().values(), book.held_by_place(), strict=False)
        )
    }
    board.publish_holds(book.live, 0, shelves, book.offers)
    snapshot = board.sale()
    assert snapshot is not None
    assert [(p.expired, p.cancelled) for p in snapshot.products] == [(1, 1), (1, 0)]
    status = sale_json(snapshot, NOW)
    assert (status["expired"], status["cancelled"]) == (2, 1)
    assert [(p["expired"], p["cancelled"]) for p in status["products"]] == [(1, 1), (1, 0)]
