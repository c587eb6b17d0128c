"""A purchase re-sent after the allocator died is told its hold's checkout token again:
the token is derived from the order id under the journal's secret, which a restarted
allocator reads back; nothing of the token is stored."""

from __future__ import annotations

import os
from dataclasses import replace

from flashsale.allocator.book import StockBook
from flashsale.checkout_rules import checkout_token
from flashsale.journal import Journal
from flashsale.outcomes import Outcome
from flashsale.records import CheckoutTerms
from tests.support.catalogue import SKU, product, sale_record

NOW = 1_000_000


def _checkout_terms():
    terms = sale_record(product(stock=2)).terms
    return replace(terms, checkout=CheckoutTerms(60, 0))


def _load(journal: Journal, sale_id: int) -> StockBook:
    """The book as the allocator loads it at its start (allocator.loop._load_book)."""
    sale = journal.latest_sale()
    assert sale is not None and sale.sale_id == sale_id
    return StockBook(
        sale,
        journal.orders_of_sale(sale_id),
        journal.checkout_rows(sale_id),
        journal.waitlist(sale_id),
        token_key=journal.token_key,
    )


def test_a_resent_purchase_gets_the_token_its_hold_was_made_with(tmp_path):
    path = tmp_path / "j.db"
    request_id = os.urandom(16)
    journal = Journal(path)
    sale = journal.create_sale(_checkout_terms())
    book = StockBook(sale, token_key=journal.token_key)
    outcome, order = book.decide("ann", SKU, request_id, NOW, False, 0)
    assert outcome is Outcome.HELD and order is not None
    assert book.issued is not None
    token, expires_at_us = book.issued
    assert len(token) == 43  # as long as 32 random bytes in base64url
    journal.record(book.take_unjournaled(), book.take_writes())
    (row,) = journal.checkout_rows(sale.sale_id)
    assert (row.state, row.expires_at_us) == ("held", expires_at_us)
    assert row.token_sha256 is None  # derived again when needed, never stored
    key = journal.token_key
    journal.close()

    restarted = Journal(path)  # the allocator died before replying and was restarted
    assert restarted.token_key == key
    recovered = _load(restarted, sale.sale_id)
    assert recovered.decide("ann", SKU, request_id, NOW + 5, False, 1) == (Outcome.HELD, order)
    assert recovered.issued == (token, expires_at_us)
    restarted.close()


def test_each_journal_has_its_own_secret_so_its_tokens_are_its_own(tmp_path):
    first, second = Journal(tmp_path / "a.db"), Journal(tmp_path / "b.db")
    assert first.token_key != second.token_key
    assert len(first.token_key) == 32
    sale = first.create_sale(_checkout_terms())
    request_id = os.urandom(16)
    book = StockBook(sale, token_key=first.token_key)
    _, order = book.decide("ann", SKU, request_id, NOW, False, 0)
    assert book.issued is not None and order is not None
    token = book.issued[0]
    first.record(book.take_unjournaled(), book.take_writes())
    assert token == checkout_token(first.token_key, order.order_id)
    assert token != checkout_token(second.token_key, order.order_id)
    hold = _load(first, sale.sale_id).holds[order.order_id]
    assert book.token_matches(hold, token)
    # A book under another key does not take the token its hold was given.
    other = StockBook(
        sale,
        first.orders_of_sale(sale.sale_id),
        first.checkout_rows(sale.sale_id),
        token_key=second.token_key,
    )
    assert not other.token_matches(other.holds[order.order_id], token)
    first.close()
    second.close()
