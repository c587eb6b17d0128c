"""The sender's schedule: in order per order, concurrent across orders, backoff, giving up;
and its durable progress."""

from __future__ import annotations

import sqlite3

import pytest

from flashsale.journal import Journal
from flashsale.records import OrderRecord, SaleTerms
from flashsale.webhooks.events import ORDER_CONFIRMED, SALE_SOLD_OUT
from flashsale.webhooks.outbox import Outbox, OutboxReader, OutboxRow
from flashsale.webhooks.progress import Progress
from flashsale.webhooks.schedule import MAX_BACKOFF_S, Schedule, backoff_s
from tests.support.catalogue import SKU, product

S = 1_000_000


def _row(seq: int, order: str | None, at_us: int = 0) -> OutboxRow:
    return OutboxRow(seq, f"evt_{seq}", "order.confirmed", order, 1, at_us, "{}")


def _seqs(rows: list[OutboxRow]) -> list[int]:
    return [row.seq for row in rows]


def test_an_order_s_events_go_one_at_a_time_and_other_orders_go_meanwhile():
    schedule = Schedule(max_age_us=86_400 * S, concurrency=10, backoff=lambda n: 1.0)
    for row in (_row(1, "a"), _row(2, "b"), _row(3, "a"), _row(4, None), _row(5, "a")):
        schedule.add(row)
    assert _seqs(schedule.due(0)) == [1, 2, 4]
    schedule.succeeded(_row(1, "a"))
    assert _seqs(schedule.due(0)) == [3]
    # A failure holds back order a's later events only.
    assert schedule.failed(_row(3, "a"), now_us=10 * S).next_at_us == 11 * S
    schedule.succeeded(_row(2, "b"))
    schedule.add(_row(6, "b"))
    assert _seqs(schedule.due(10 * S)) == [6]
    assert _seqs(schedule.due(11 * S)) == [3]
    schedule.succeeded(_row(3, "a"))
    assert _seqs(schedule.due(11 * S)) == [5]


def test_concurrency_is_bounded():
    schedule = Schedule(max_age_us=S, concurrency=2)
    for seq in range(1, 6):
        schedule.add(_row(seq, f"o{seq}"))
    assert _seqs(schedule.due(0)) == [1, 2]
    assert schedule.due(0) == []
    schedule.succeeded(_row(1, "o1"))
    assert _seqs(schedule.due(0)) == [3]


def test_an_event_is_given_up_at_its_max_age_and_its_order_goes_on():
    schedule = Schedule(max_age_us=100 * S, concurrency=4, backoff=lambda n: 3600.0)
    schedule.add(_row(1, "a", at_us=0))
    schedule.add(_row(2, "a", at_us=0))
    schedule.due(0)
    # The next try is due no later than the max age.
    assert schedule.failed(_row(1, "a"), now_us=50 * S).next_at_us == 100 * S
    assert _seqs(schedule.due(100 * S)) == [1]
    failure = schedule.failed(_row(1, "a"), now_us=100 * S)
    assert (failure.attempts, failure.next_at_us) == (2, None)
    assert _seqs(schedule.due(100 * S)) == [2]


def test_backoff_grows_from_a_second_to_an_hour_with_jitter():
    assert [backoff_s(n, lambda lo, hi: 1.0) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert backoff_s(30, lambda lo, hi: hi) == MAX_BACKOFF_S
    assert backoff_s(1, lambda lo, hi: lo) == 1.0
    assert backoff_s(5, lambda lo, hi: lo) == 12.0


def test_a_restart_resumes_the_backoff_of_earlier_failures():
    schedule = Schedule(max_age_us=86_400 * S, concurrency=4, retries={1: (3, 50 * S)})
    schedule.add(_row(1, "a"))
    assert schedule.due(49 * S) == []
    assert _seqs(schedule.due(50 * S)) == [1]
    assert schedule.failed(_row(1, "a"), 50 * S).attempts == 4


def test_progress_folds_finished_events_and_survives_a_reopen(tmp_path):
    path = tmp_path / "j.db.webhooks"
    progress = Progress(path)
    progress.delivered(2)
    progress.failed(1, 1, 99, "HTTP 500")
    assert (progress.through_seq, progress.is_finished(2), progress.is_finished(1)) == (
        0,
        True,
        False,
    )
    progress.close()
    again = Progress(path)
    assert again.retries() == {1: (1, 99)}
    again.gave_up(1, "evt_1", "order.confirmed", "a", 5, "HTTP 500", 123)
    assert again.through_seq == 2 and again.retries() == {} and again.given_up_count() == 1
    again.close()
    assert Progress(path).through_seq == 2


def _order(position: int, sku_position: int) -> OrderRecord:
    return OrderRecord(
        f"o{position}", 1, f"u{position}", 1, position, 1_700_000_000_000_000, SKU, sku_position
    )


def test_a_commit_appends_its_orders_events_and_the_sold_out_in_its_transaction(tmp_path):
    journal = Journal(tmp_path / "j.db")
    journal.create_sale(SaleTerms((product(stock=2),), 1, None, None))
    orders = [_order(1, 1), _order(2, 2)]
    journal.record(orders, outbox=Outbox())
    rows = OutboxReader(tmp_path / "j.db").after(0, 10)
    assert [(r.type, r.order_id) for r in rows] == [
        (ORDER_CONFIRMED, "o1"),
        (ORDER_CONFIRMED, "o2"),
        (SALE_SOLD_OUT, None),
    ]
    assert all(r.event_id.startswith("evt_") and len(r.event_id) == 28 for r in rows)
    # A commit that fails appends nothing.
    with pytest.raises(sqlite3.IntegrityError):
        journal.record([orders[0]._replace(order_id="again")], outbox=Outbox())
    assert len(OutboxReader(tmp_path / "j.db").after(0, 10)) == 3
    # Off: no outbox, nothing appended.
    journal.create_sale(SaleTerms((product(stock=5),), 1, None, None))
    journal.record([_order(1, 1)._replace(sale_id=2)])
    assert len(OutboxReader(tmp_path / "j.db").after(0, 10)) == 3
