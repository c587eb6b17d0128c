"""What of a waiting room is pushed to open pages at once: its state, its length to two
figures; "now serving" only when admitting all at once (at a rate, pages follow it and
it goes out at heartbeats: tests/unit/test_events.py)."""

from __future__ import annotations

from dataclasses import replace

from flashsale.api.status import queue_tag
from flashsale.catalogue import Product
from flashsale.records import QueueTerms, SaleRecord, SaleTerms
from flashsale.shm.sale_board import QueueFigures, SaleSnapshot

PRODUCT = Product("p", "P", "", 100, "EUR", None, 10, None)


def _sale(rate: int | None, state: int, length: int, serving: int) -> SaleSnapshot:
    terms = SaleTerms((PRODUCT,), 1, 1, None, None, QueueTerms(None, admit_per_minute=rate))
    snapshot = SaleSnapshot.of(SaleRecord(1, 10, terms, 0), {})
    return replace(snapshot, queue_now=QueueFigures(state, length, serving, length - serving))


def test_serving_at_a_rate_waits_and_all_at_once_does_not() -> None:
    assert queue_tag(_sale(600, 1, 5_000, 100)) == queue_tag(_sale(600, 1, 5_000, 4_000))
    assert queue_tag(_sale(None, 1, 50, 10)) != queue_tag(_sale(None, 1, 50, 11))


def test_a_change_of_state_moves_pages_at_once() -> None:
    assert queue_tag(_sale(600, 1, 5_000, 150)) != queue_tag(_sale(600, 2, 5_000, 150))
    assert queue_tag(_sale(600, 0, 5_000, 0)) != queue_tag(_sale(600, 1, 5_000, 0))


def test_the_length_moves_pages_to_two_figures() -> None:
    assert queue_tag(_sale(600, 0, 1_204, 0)) == queue_tag(_sale(600, 0, 1_299, 0))
    assert queue_tag(_sale(600, 0, 1_299, 0)) != queue_tag(_sale(600, 0, 1_300, 0))
    assert queue_tag(_sale(600, 0, 7, 0)) != queue_tag(_sale(600, 0, 8, 0))
