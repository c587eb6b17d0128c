from __future__ import annotations

import multiprocessing

from flashsale.metrics import MetricsRecorder, MetricsSnapshot
from flashsale.outcomes import Outcome
from flashsale.shm.sale_board import SaleBoard, SaleSnapshot
from flashsale.shm.slots import NUM_ROWS, Endpoint, ProcessSlots
from tests.support.catalogue import product, snapshot


def test_the_sale_board_publishes_a_whole_sale():
    board = SaleBoard()
    assert board.sale() is None
    sale = snapshot(3, 100, 1, None, 2_000, 10, 0)
    board.publish_sale(sale)
    board.publish_sold(40, batch=40, product_sold={0: 40})
    read = board.sale()
    assert read is not None
    assert (read.sale_id, read.stock, read.sold, read.remaining) == (3, 100, 40, 60)
    assert read.state(1_000) == "open"
    assert read.state(2_000) == "ended"
    assert (board.allocator().commits, board.allocator().committed_sales) == (1, 40)


def _publish(board: SaleBoard, sale: SaleSnapshot | None, sold: int | None) -> None:
    if sale is not None:
        board.publish_sale(sale)
    if sold is not None:
        board.publish_sold(sold, batch=1, product_sold={0: sold})


def test_a_reader_sees_every_change_another_process_publishes():
    # A reader reuses its last snapshot while nothing changed: not once something did.
    board = SaleBoard()
    fork = multiprocessing.get_context("fork")
    changes = [
        (snapshot(1, 100, 1, None, None, 10, 0), None),
        (None, 7),  # a commit: sold only
        (snapshot(2, 5, 2, 1_000, None, 20, 0), None),  # a new sale, sold back to 0
        (None, 5),
    ]
    for sale, sold in changes:
        writer = fork.Process(target=_publish, args=(board, sale, sold))
        writer.start()
        writer.join(10)
        read = board.sale()
        assert read is not None
        assert read is board.sale()  # unchanged since: the same snapshot
        expected_id = sale.sale_id if sale else read.sale_id
        assert (read.sale_id, read.sold) == (expected_id, sold if sold is not None else 0)
    assert read is not None
    assert (read.sale_id, read.stock, read.per_user_limit, read.starts_at_us) == (2, 5, 2, 1_000)


def test_counts_survive_a_worker_exit_through_the_retired_row():
    slots = ProcessSlots()
    first, second = slots.claim(), slots.claim()
    assert first is not None and second is not None
    MetricsRecorder(slots.row(first)).record(Endpoint.PURCHASE, Outcome.CONFIRMED, 1_500)
    for _ in range(3):
        MetricsRecorder(slots.row(second)).record(Endpoint.PURCHASE, Outcome.SOLD_OUT, 400)
    slots.release(first)
    snapshot = MetricsSnapshot.read(slots)
    assert snapshot.requests[Endpoint.PURCHASE] == 4
    assert snapshot.outcomes[Outcome.CONFIRMED] == 1
    assert snapshot.latency_max_us == 1_500
    assert snapshot.latency_percentile_ms(0.5) == 0.5
    assert slots.claim() == first  # the row is reused, and starts from zero
    assert MetricsSnapshot.read(slots).requests[Endpoint.PURCHASE] == 4


def test_rows_run_out_without_crashing():
    slots = ProcessSlots()
    assert all(slots.claim() is not None for _ in range(NUM_ROWS))
    assert slots.claim() is None


def test_a_worker_still_being_forked_is_not_counted_alive():
    # The master claims a row before fork; the worker writes its pid once it runs.
    slots = ProcessSlots()
    started, forking = slots.claim(), slots.claim()
    assert started is not None and forking is not None
    slots.set_pid(started, 4242)
    assert slots.live_pids() == [4242]


def test_each_product_s_stock_and_catalogue_reach_every_reader():
    board = SaleBoard()
    products = (product("s41", 2), product("s42", 3, per_user_limit=1))
    board.publish_sale(snapshot(4, 5, products=products))
    board.publish_sold(2, batch=2, product_sold={1: 2})
    read = board.sale()
    assert read is not None
    assert [item.product for item in read.products] == list(products)
    assert [(item.sold, item.remaining) for item in read.products] == [(0, 2), (2, 1)]
    assert read.places == {"s41": 0, "s42": 1}
    board.publish_sold(4, batch=2, product_sold={0: 2})
    read = board.sale()
    assert read is not None
    assert read.product_state(0, 0) == "sold_out"
    assert read.product_state(1, 0) == read.state(0) == "open"
